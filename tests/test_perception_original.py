"""The optional ``[original]`` backends: segment-anything and groundingdino-py with ``.pth`` checkpoints.

Each test skips, saying why, when its package is not installed. Models are tiny and random; the
checkpoints are written with ``torch.save`` and read back through the loaders users go through.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

from layeredit.errors import ModelLoadError
from layeredit.plan import Target
from layeredit.tools.grounding import GroundingThresholds
from layeredit.tools.perception import GroundedResolver
from layeredit.tools.segmentation import original_sam_type
from tests.tiny_perception import tiny_bert_config, write_vocab


def test_official_sam_file_names_tell_the_model_type():
    assert original_sam_type("/models/sam_vit_b_01ec64.pth") == "vit_b"
    assert original_sam_type("sam_vit_h_4b8939.pth") == "vit_h"
    with pytest.raises(ModelLoadError, match="keep the official file name"):
        original_sam_type("my_sam.pth")


def build_tiny_original_sam(checkpoint: str | None = None):
    """Like segment_anything's own builders, at toy size."""
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    side, patch, channels = 64, 16, 16
    sam = Sam(
        image_encoder=ImageEncoderViT(
            img_size=side, patch_size=patch, embed_dim=32, depth=1, num_heads=2, mlp_ratio=2.0,
            out_chans=channels, qkv_bias=True, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            use_rel_pos=True, window_size=2, global_attn_indexes=(0,),
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=channels, image_embedding_size=(side // patch, side // patch),
            input_image_size=(side, side), mask_in_chans=4,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=1, embedding_dim=channels, mlp_dim=32, num_heads=2),
            transformer_dim=channels, iou_head_depth=1, iou_head_hidden_dim=16,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    ).eval()
    if checkpoint is not None:
        sam.load_state_dict(torch.load(checkpoint))
    return sam


def test_segment_anything_checkpoint_boxes_to_masks(tmp_path, monkeypatch):
    pytest.importorskip("segment_anything", reason="segment-anything is not installed (extra [original])")
    from segment_anything import sam_model_registry

    from layeredit.tools.segmentation import OriginalSamSegmenter

    monkeypatch.setitem(sam_model_registry, "vit_toy", build_tiny_original_sam)
    torch.manual_seed(0)
    checkpoint = tmp_path / "sam_vit_toy.pth"
    torch.save(build_tiny_original_sam().state_dict(), checkpoint)

    segmenter = OriginalSamSegmenter(str(checkpoint), model_type="vit_toy", device="cpu")
    image = data.chelsea()
    segmenter.set_image(image)
    masks = segmenter.predict([(10.0, 20.0, 200.0, 250.0), (100.0, 50.0, 400.0, 290.0)])
    assert len(masks) == 2 and all(m.dtype == bool and m.shape == image.shape[:2] for m in masks)
    clicked = segmenter.predict_point(220.0, 150.0)
    assert clicked.dtype == bool and clicked.shape == image.shape[:2]

    class OneBox:
        def detect(self, image, phrases, threshold=None):
            from layeredit.tools.grounding import Detection

            return [Detection((50.0, 40.0, 300.0, 280.0), 0.9, "cat")]

    [mask] = GroundedResolver(OneBox(), segmenter).resolve(image, Target(phrase="cat"))
    assert mask.shape == image.shape[:2] and mask.any()


def write_tiny_original_grounding_config(folder: Path) -> Path:
    """The package's SwinT config at toy size, reading a tiny BERT from a local folder."""
    import groundingdino
    from transformers import BertModel, BertTokenizer

    bert = folder / "bert"
    tokenizer = BertTokenizer(str(write_vocab(bert)))
    tokenizer.save_pretrained(bert)
    BertModel(tiny_bert_config(tokenizer.vocab_size, 300)).save_pretrained(bert)
    text = (Path(groundingdino.__file__).parent / "config" / "GroundingDINO_SwinT_OGC.py").read_text()
    toy = {
        "enc_layers": 1, "dec_layers": 2, "dim_feedforward": 32, "hidden_dim": 256, "nheads": 2,
        "num_queries": 12, "use_checkpoint": False, "use_transformer_ckpt": False,
        "text_encoder_type": str(bert),
    }
    for name, value in toy.items():
        text, replaced = re.subn(rf"^{name} = .*$", f"{name} = {value!r}", text, flags=re.MULTILINE)
        assert replaced == 1, name
    config = folder / "tiny_groundingdino.py"
    config.write_text(text)
    return config


def test_groundingdino_checkpoint_detects_phrases(tmp_path):
    pytest.importorskip("groundingdino", reason="groundingdino-py is not installed (extra [original])")
    from layeredit.tools.grounding import OriginalGroundingDino

    config = write_tiny_original_grounding_config(tmp_path)
    checkpoint = tmp_path / "groundingdino_toy.pth"
    # The original loader reads non-strictly: an empty state dict leaves the toy model random.
    torch.save({"model": {}}, checkpoint)
    grounder = OriginalGroundingDino(
        str(checkpoint), config=str(config), device="cpu", thresholds=GroundingThresholds(0.0, 0.0)
    )
    image = data.chelsea()
    found = grounder.detect(image, ["cat", "lamp"])
    assert found and {d.label for d in found} <= {"cat", "lamp"}
    height, width = image.shape[:2]
    assert all(0 <= d.box[0] < d.box[2] <= width and 0 <= d.box[1] < d.box[3] <= height for d in found)
    assert np.all(np.diff([d.score for d in found]) <= 0)
