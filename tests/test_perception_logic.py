"""Perception without models: selection over detections, mask clean-up, errors, model cache, output files."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from layeredit.errors import ModelLoadError
from layeredit.imageio import save_image
from layeredit.plan import Target
from layeredit.tools import models
from layeredit.tools.grounding import (
    Detection,
    GroundingThresholds,
    caption_for,
    detections_from_scores,
    make_grounder,
    phrase_token_positions,
    suppress_duplicates,
)
from layeredit.tools.masks import clean_mask, dilate_for_role, drop_specks, fill_holes
from layeredit.tools.perception import CombinedResolver, GroundedResolver, GroundingFinder, covering_box_mask
from layeredit.tools.resolve import NamedMasks, TargetNotFoundError
from layeredit.tools.segment import mask_file_stem, segment_image
from layeredit.tools.segmentation import _EmbeddingOnce, make_segmenter
from layeredit.tools.selection import SelectionError
from tests.tiny_perception import write_vocab

SHAPE = (100, 200, 3)


class FakeGrounder:
    """Fixed detections per phrase; records the thresholds it was asked with."""

    def __init__(self, found: dict[str, list[Detection]]):
        self.found = found
        self.calls: list[tuple[tuple[str, ...], float | None]] = []

    def detect(self, image: np.ndarray, phrases: str | Sequence[str], threshold: float | None = None):
        phrases = (phrases,) if isinstance(phrases, str) else tuple(phrases)
        self.calls.append((phrases, threshold))
        return [d for p in phrases for d in self.found.get(p, [])]


class BoxSegmenter:
    """Masks are the boxes themselves; counts embeddings and remembers the boxes asked for."""

    def __init__(self):
        self.embedded = 0
        self.asked: list[list[tuple[float, ...]]] = []
        self.shape: tuple[int, ...] = ()

    def set_image(self, image: np.ndarray) -> None:
        self.embedded += 1
        self.shape = image.shape

    def predict(self, boxes):
        self.asked.append(list(boxes))
        return [covering_box_mask(box, self.shape) for box in boxes]


# Four cats: scores, sizes and positions all differ so each selection has one right answer.
CATS = [
    Detection(box=(120, 10, 150, 40), score=0.50, label="cat"),  # 2nd from left, topmost, smallest
    Detection(box=(10, 40, 60, 80), score=0.40, label="cat"),  # leftmost
    Detection(box=(160, 30, 199, 99), score=0.45, label="cat"),  # rightmost, bottommost, largest
    Detection(box=(70, 20, 110, 60), score=0.90, label="cat"),  # best
]


def resolver_with(found: dict[str, list[Detection]]) -> tuple[GroundedResolver, FakeGrounder, BoxSegmenter]:
    grounder, segmenter = FakeGrounder(found), BoxSegmenter()
    return GroundedResolver(grounder, segmenter), grounder, segmenter


def picked_boxes(select: str | None, index: int | None = None) -> list[tuple[float, ...]]:
    resolver, _, _ = resolver_with({"cat": CATS})
    image = np.zeros(SHAPE, np.uint8)
    located = resolver.locate(image, Target(phrase="cat", select=select, index=index))
    return [found.detection.box for found in located]


@pytest.mark.parametrize(
    ("select", "index", "expected"),
    [
        (None, None, [3]),
        ("all", None, [1, 3, 0, 2]),
        ("leftmost", None, [1]),
        ("rightmost", None, [2]),
        ("topmost", None, [0]),
        ("bottommost", None, [2]),
        ("largest", None, [2]),
        ("smallest", None, [0]),
        ("index", 0, [1]),
        ("index", 1, [3]),
        ("index", 3, [2]),
        ("index", -1, [2]),  # counted from the right: "the second cat from the right" is -2
        ("index", -2, [0]),
    ],
)
def test_selection_over_detections_is_exact(select, index, expected):
    assert picked_boxes(select, index) == [CATS[i].box for i in expected]


def test_index_past_the_matches_says_how_many_were_found():
    with pytest.raises(SelectionError, match="only 4 found"):
        picked_boxes("index", 4)
    with pytest.raises(SelectionError, match="number 5 from the right was asked for, but only 4 found"):
        picked_boxes("index", -5)


def test_only_the_selected_boxes_are_segmented_and_the_image_is_embedded_per_resolve():
    resolver, _, segmenter = resolver_with({"cat": CATS})
    masks = resolver.resolve(np.zeros(SHAPE, np.uint8), Target(phrase="cat", select="leftmost"))
    assert segmenter.asked == [[CATS[1].box]]
    assert len(masks) == 1 and masks[0].dtype == bool and masks[0].shape == SHAPE[:2]
    assert masks[0].sum() == 50 * 40


class CountingEmbedder(_EmbeddingOnce):
    def __init__(self):
        self.embedded = 0

    def _embed(self, image: np.ndarray) -> None:
        self.embedded += 1


def test_setting_the_same_picture_again_does_not_re_embed_it():
    embedder, image = CountingEmbedder(), np.zeros(SHAPE, np.uint8)
    embedder.set_image(image)
    embedder.set_image(image.copy())
    assert embedder.embedded == 1
    changed = image.copy()
    changed[0, 0, 0] = 1
    embedder.set_image(changed)
    assert embedder.embedded == 2


def test_a_phrase_that_matches_nothing_names_it_and_lists_what_was_seen():
    seen = [
        Detection((50, 0, 90, 40), 0.38, "table"),
        Detection((0, 0, 10, 10), 0.41, "chair"),
        Detection((20, 0, 30, 10), 0.30, "chair"),
    ]
    resolver, grounder, _ = resolver_with({"table": seen[:1], "chair": seen[1:]})
    with pytest.raises(TargetNotFoundError) as caught:
        resolver.resolve(np.zeros(SHAPE, np.uint8), Target(phrase="lamp"))
    assert str(caught.value).startswith("no 'lamp' found; saw: chair 0.41, table 0.38.")
    # Outside any interface the hint speaks the Python API.
    assert "masks={'lamp': PATH}" in str(caught.value) and "boxes={'lamp':" in str(caught.value)
    survey, threshold = grounder.calls[-1]
    assert survey[0] == "lamp" and "chair" in survey and threshold == resolver.report_threshold


def test_a_phrase_that_matches_nothing_in_an_empty_picture_says_so():
    resolver, _, _ = resolver_with({})
    expected = r"^no 'red lamp' found; saw: nothing above 0\.20\. .*masks=\{'lamp': PATH\}"
    with pytest.raises(TargetNotFoundError, match=expected):
        resolver.resolve(np.zeros(SHAPE, np.uint8), Target(phrase="red lamp"))


def test_given_masks_win_over_detection_and_detection_covers_the_rest():
    given = np.zeros(SHAPE[:2], bool)
    given[5:15, 5:25] = True
    resolver, grounder, _ = resolver_with({"cat": CATS, "dog": CATS[:1]})
    combined = CombinedResolver(NamedMasks({"cat": given}), resolver)
    image = np.zeros(SHAPE, np.uint8)
    [cat] = combined.resolve(image, Target(phrase="cat"))
    assert np.array_equal(cat, given) and grounder.calls == []
    [dog] = combined.resolve(image, Target(phrase="dog"))
    assert dog.sum() == 30 * 30
    [located] = combined.locate(image, Target(phrase="black cat"))
    assert located.detection.box == (5.0, 5.0, 25.0, 15.0) and located.detection.label == "black cat"


def test_an_empty_sam_mask_falls_back_to_the_detected_box():
    class EmptySegmenter(BoxSegmenter):
        def predict(self, boxes):
            return [np.zeros(self.shape[:2], bool) for _ in boxes]

    resolver = GroundedResolver(FakeGrounder({"cat": CATS}), EmptySegmenter())
    [mask] = resolver.resolve(np.zeros(SHAPE, np.uint8), Target(phrase="cat"))
    assert np.array_equal(mask, covering_box_mask(CATS[3].box, SHAPE))


def test_the_finder_reports_matches_and_a_survey_of_common_things():
    finder = GroundingFinder(FakeGrounder({"cat": CATS, "chair": CATS[:1]}), survey_threshold=0.1)
    image = np.zeros(SHAPE, np.uint8)
    assert finder.detect(image, "cat") == CATS
    assert finder.known_objects(image) == CATS + CATS[:1]


# --- grounding helpers -------------------------------------------------------------------------


def test_duplicates_are_suppressed_by_overlap_best_first():
    a = Detection((0, 0, 100, 100), 0.6, "cat")
    a_again = Detection((5, 5, 100, 100), 0.9, "cat")  # IoU 0.9025 with a
    b = Detection((60, 0, 160, 100), 0.5, "cat")  # IoU 0.25 with a_again's neighbour a
    assert suppress_duplicates([a, a_again, b], iou_threshold=0.5) == [a_again, b]
    assert suppress_duplicates([a, a_again, b], iou_threshold=0.95) == [a_again, a, b]


def test_captions_are_lower_case_sentences():
    assert caption_for(["Red Car", "cat.", "st. bernard"]) == "red car. cat. st  bernard."


def test_each_box_is_named_after_the_phrase_it_matches_best(tmp_path):
    from transformers import BertTokenizer

    tokenizer = BertTokenizer(str(write_vocab(tmp_path)))
    phrases = ["red car", "cat"]
    input_ids = tokenizer(caption_for(phrases))["input_ids"]
    spans = phrase_token_positions(input_ids, tokenizer)
    assert spans == [[1, 2], [4]]  # [CLS] red car . cat . [SEP]
    probs = torch.zeros(4, len(input_ids))
    probs[0, 2] = 0.9  # "car" token: a red car
    probs[1, 4] = 0.5  # a cat
    probs[2, 4] = 0.3  # a weak cat
    probs[3, 3] = 0.99  # only the "." token: matches no phrase
    boxes = torch.tensor([[0.5, 0.5, 0.2, 0.2], [0.1, 0.1, 0.4, 0.4], [0.8, 0.8, 0.2, 0.2], [0.5, 0.5, 1, 1]])
    found = detections_from_scores(probs, boxes, spans, phrases, (100, 200, 3), GroundingThresholds())
    assert [(d.label, round(d.score, 2)) for d in found] == [("red car", 0.9), ("cat", 0.5)]
    assert found[0].box == pytest.approx((80.0, 40.0, 120.0, 60.0))
    assert found[1].box == pytest.approx((0.0, 0.0, 60.0, 30.0))  # clipped at the image edge
    lowered = detections_from_scores(probs, boxes, spans, phrases, (100, 200, 3), GroundingThresholds(), 0.2)
    assert [d.label for d in lowered] == ["red car", "cat", "cat"]


# --- mask clean-up -----------------------------------------------------------------------------


def test_small_enclosed_holes_are_filled_and_large_ones_and_open_gaps_kept():
    mask = np.zeros((100, 100), bool)
    mask[10:90, 10:90] = True
    mask[20:23, 20:23] = False  # 9 px pinhole
    mask[40:70, 40:70] = False  # 900 px real hole
    mask[0:50, 50:52] = False  # notch open to the border
    filled = fill_holes(mask, max_area=100)
    assert filled[20:23, 20:23].all()
    assert not filled[40:70, 40:70].any()
    assert not filled[10:50, 50:52].any()
    assert np.array_equal(filled & ~mask, np.pad(np.ones((3, 3), bool), ((20, 77), (20, 77))))


def test_specks_are_dropped_but_the_object_always_stays():
    mask = np.zeros((100, 100), bool)
    mask[10:50, 10:50] = True
    mask[80:82, 80:82] = True  # 4 px speck
    mask[60:66, 60:66] = True  # 36 px part that stays
    cleaned = drop_specks(mask, min_area=20)
    assert np.array_equal(cleaned, mask & ~np.pad(np.ones((2, 2), bool), ((80, 18), (80, 18))))
    tiny_object = np.zeros((100, 100), bool)
    tiny_object[5:7, 5:7] = True
    assert np.array_equal(drop_specks(tiny_object, min_area=20), tiny_object)


def test_clean_mask_sizes_are_fractions_of_the_image():
    mask = np.zeros((200, 200), bool)  # 40000 px: holes <= 40 px filled, specks < 20 px dropped
    mask[20:120, 20:120] = True
    mask[50:56, 50:56] = False  # 36 px hole: filled
    mask[70:80, 70:80] = False  # 100 px hole: kept
    mask[150:154, 150:154] = True  # 16 px speck: dropped
    cleaned = clean_mask(mask)
    assert cleaned[50:56, 50:56].all()
    assert not cleaned[70:80, 70:80].any() and not cleaned[150:154, 150:154].any()


@pytest.mark.parametrize(
    ("role", "side", "radius"), [("object", 1024, 10), ("hole", 1024, 20), ("border", 512, 15)]
)
def test_role_dilation_grows_by_the_design_size_scaled_to_the_image(role, side, radius):
    mask = np.zeros((side, side), bool)
    mask[side // 2, side // 2] = True
    grown = dilate_for_role(mask, role)
    assert grown[side // 2].sum() == 2 * radius + 1 and grown[:, side // 2].sum() == 2 * radius + 1


def test_an_unknown_role_is_refused():
    with pytest.raises(ValueError, match="unknown mask role 'shadow'"):
        dilate_for_role(np.zeros((8, 8), bool), "shadow")


# --- model loading -----------------------------------------------------------------------------


def test_models_load_once_per_kind_id_and_device():
    loads = []
    models.clear_model_cache()
    first = models.load_once("sam", "some/model", "cpu", lambda: loads.append(1) or object())
    assert models.load_once("sam", "some/model", "cpu", lambda: loads.append(1) or object()) is first
    models.load_once("sam", "some/model", "cuda:1", lambda: loads.append(1) or object())
    assert len(loads) == 2
    models.clear_model_cache()


def test_a_failed_load_names_the_model_says_how_to_get_it_and_is_retried():
    def offline():
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files")

    with pytest.raises(ModelLoadError) as caught:
        models.load_once("grounding", "IDEA-Research/grounding-dino-base", "cpu", offline)
    message = str(caught.value)
    assert "'IDEA-Research/grounding-dino-base' is not available (We couldn't connect" in message
    assert "`hf download IDEA-Research/grounding-dino-base`" in message
    assert "`--grounding-model PATH`" in message
    assert models.load_once("grounding", "IDEA-Research/grounding-dino-base", "cpu", lambda: "ok") == "ok"
    models.clear_model_cache()


def test_a_missing_local_model_folder_is_reported_without_touching_the_hub(tmp_path):
    expected = r"no such file or folder.*hf download facebook/sam-vit-base"
    with pytest.raises(ModelLoadError, match=expected):
        make_segmenter(str(tmp_path / "sam"), device="cpu")
    with pytest.raises(ModelLoadError, match=r"--grounding-model PATH"):
        make_grounder(str(tmp_path / "dino"), device="cpu")


def test_a_folder_that_is_not_a_model_gives_the_same_clear_error(tmp_path):
    expected = r"segmentation model \(Segment Anything\) '.*' is not available"
    with pytest.raises(ModelLoadError, match=expected):
        make_segmenter(str(tmp_path), device="cpu")


def test_original_checkpoints_without_their_package_say_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "segment_anything", None)  # as if it were not installed
    assert importlib.util.find_spec("segment_anything") is None
    checkpoint = tmp_path / "sam_vit_b_01ec64.pth"
    checkpoint.write_bytes(b"")
    with pytest.raises(ModelLoadError, match=r"needs the `segment-anything` package.*layeredit\[original\]"):
        make_segmenter(str(checkpoint))


# --- segment command ---------------------------------------------------------------------------


def test_segment_writes_a_mask_per_phrase_and_an_overlay(tmp_path):
    image = np.full(SHAPE, 90, np.uint8)
    image_path = save_image(image, tmp_path / "photo.png")
    resolver, _, _ = resolver_with({"cat": CATS, "red car": CATS[:1]})
    phrases = ["cat", Target(phrase="cat", select="all"), "red car", "lamp"]
    result = segment_image(image_path, phrases, tmp_path / "out", resolver)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "cat.png", "cat_all.png", "overlay.png", "red_car.png"
    ]
    cat = np.asarray(Image.open(result.masks["cat"]))
    assert cat.dtype == np.uint8 and cat.shape == SHAPE[:2] and set(np.unique(cat)) == {0, 255}
    assert np.array_equal(cat > 127, covering_box_mask(CATS[3].box, SHAPE))
    assert len(result.found["cat[all]"]) == 4
    assert result.missing["lamp"].startswith("no 'lamp' found; saw: cat 0.90.")
    overlay = np.asarray(Image.open(result.overlay))
    assert overlay.shape == SHAPE
    assert (overlay != image).any(axis=-1)[covering_box_mask(CATS[3].box, SHAPE)].all()
    assert (overlay == image)[60:, :5].all()  # far from every object: untouched


def test_mask_file_names_are_safe():
    assert mask_file_stem("red car[leftmost]") == "red_car_leftmost"
    assert mask_file_stem("../../etc/passwd") == "etc_passwd"
    assert mask_file_stem("猫") == "object"


def test_segment_names_colliding_phrases_apart(tmp_path):
    image_path = save_image(np.zeros(SHAPE, np.uint8), tmp_path / "photo.png")
    resolver, _, _ = resolver_with({"Cat": CATS, "cat": CATS})
    result = segment_image(image_path, ["Cat", "cat"], tmp_path, resolver)
    assert [p.name for p in result.masks.values()] == ["cat.png", "cat_2.png"]
    assert not list(Path(tmp_path).glob(".*.tmp"))


def test_detection_looks_for_the_description_and_an_anchor_is_found_like_a_target():
    from layeredit.engine.layers import LayerStack
    from layeredit.plan import EditPlan

    chair = Detection((0, 0, 10, 10), 0.41, "chair")
    resolver, grounder, _ = resolver_with({"cat on the sofa": CATS[:1], "chair": [chair]})
    image = np.zeros(SHAPE, np.uint8)
    (mask,) = resolver.resolve(image, Target(phrase="cat", description="cat on the sofa"))
    assert grounder.calls[0] == (("cat on the sofa",), None) and mask.sum() == 30 * 30
    plan = EditPlan.parse({"operations": [
        {"op": "move", "target": {"phrase": "cat", "description": "cat on the sofa"},
         "beside": {"anchor": {"phrase": "bowl"}, "side": "left"}},
    ]})  # fmt: skip
    with pytest.raises(TargetNotFoundError, match=r"^no 'bowl' found; saw: chair 0\.41"):
        LayerStack.build(image, plan, resolver)
