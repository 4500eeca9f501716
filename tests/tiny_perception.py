"""Tiny random-weight GroundingDINO and SAM, saved like real model folders (no downloads)."""

from __future__ import annotations

from pathlib import Path

import torch

from layeredit.tools.grounding import SURVEY_VOCABULARY

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "the", "a", "red", "on", "left",
         *SURVEY_VOCABULARY, "bell", "boy", "cup"]


def write_vocab(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "vocab.txt"
    path.write_text("\n".join(dict.fromkeys(VOCAB)) + "\n")
    return path


def tiny_bert_config(vocab_size: int, max_positions: int):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=max_positions,
    )


def save_tiny_grounding_dino(folder: Path, seed: int = 0) -> Path:
    from transformers import (
        BertTokenizer,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessorPil,
        GroundingDinoProcessor,
        SwinConfig,
    )

    tokenizer = BertTokenizer(str(write_vocab(folder)))
    backbone = SwinConfig(
        embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=4, image_size=64,
        out_indices=[2, 3, 4],
    )
    config = GroundingDinoConfig(
        backbone_config=backbone,
        text_config=tiny_bert_config(tokenizer.vocab_size, 128),
        d_model=32,  # GroupNorm(32, d_model) needs a multiple of 32
        encoder_layers=1,
        decoder_layers=2,  # the box head of layer 0 is tied to the later layers'
        encoder_ffn_dim=32, decoder_ffn_dim=32, encoder_attention_heads=2, decoder_attention_heads=2,
        encoder_n_points=2, decoder_n_points=2, num_queries=12, max_text_len=128,
    )
    torch.manual_seed(seed)
    GroundingDinoForObjectDetection(config).eval().save_pretrained(folder)
    image_processor = GroundingDinoImageProcessorPil(size={"shortest_edge": 96, "longest_edge": 160})
    GroundingDinoProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def save_tiny_sam(folder: Path, seed: int = 0) -> Path:
    from transformers import (
        SamConfig,
        SamImageProcessorPil,
        SamMaskDecoderConfig,
        SamModel,
        SamProcessor,
        SamPromptEncoderConfig,
        SamVisionConfig,
    )

    side = 128
    config = SamConfig(
        vision_config=SamVisionConfig(
            hidden_size=32, output_channels=16, num_hidden_layers=2, num_attention_heads=2, image_size=side,
            patch_size=16, window_size=4, global_attn_indexes=[1], num_pos_feats=8, mlp_dim=64,
        ),
        prompt_encoder_config=SamPromptEncoderConfig(
            hidden_size=16, image_size=side, patch_size=16, mask_input_channels=4
        ),
        mask_decoder_config=SamMaskDecoderConfig(
            hidden_size=16, mlp_dim=32, num_hidden_layers=2, num_attention_heads=2, iou_head_hidden_dim=16
        ),
    )
    torch.manual_seed(seed)
    SamModel(config).eval().save_pretrained(folder)
    image_processor = SamImageProcessorPil(
        size={"longest_edge": side}, pad_size={"height": side, "width": side},
        mask_size={"longest_edge": side // 4}, mask_pad_size={"height": side // 4, "width": side // 4},
    )
    SamProcessor(image_processor=image_processor).save_pretrained(folder)
    return folder
