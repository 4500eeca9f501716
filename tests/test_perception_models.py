"""The real transformers code paths with tiny random-weight GroundingDINO and SAM loaded from folders.

Random weights give arbitrary boxes, so thresholds are 0 where something must be found and the
checks are about shapes, types and invariants, not about which object was found.
"""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from layeredit.engine.layers import LayerStack
from layeredit.engine.pixel import PixelEngine
from layeredit.imageio import load_image, save_image
from layeredit.plan import EditPlan, Target
from layeredit.tools.grounding import (
    SURVEY_VOCABULARY,
    GroundingThresholds,
    TransformersGrounder,
    box_iou,
    make_grounder,
)
from layeredit.tools.perception import CombinedResolver, GroundedResolver, make_resolver
from layeredit.tools.points import SamPointSegmenter
from layeredit.tools.resolve import NamedMasks, TargetNotFoundError, box_mask
from layeredit.tools.segment import segment_image
from layeredit.tools.segmentation import TransformersSegmenter, make_segmenter
from tests.conftest import example
from tests.tiny_perception import save_tiny_grounding_dino, save_tiny_sam

FIND_ANYTHING = GroundingThresholds(box=0.0, text=0.0)


@pytest.fixture(scope="module")
def model_folders(tmp_path_factory) -> tuple[str, str]:
    root = tmp_path_factory.mktemp("perception_models")
    return str(save_tiny_grounding_dino(root / "grounding-dino")), str(save_tiny_sam(root / "sam"))


@pytest.fixture(scope="module")
def resolver(model_folders) -> GroundedResolver:
    grounding, sam = model_folders
    return make_resolver(grounding, sam, device="cpu", thresholds=FIND_ANYTHING)


@pytest.fixture(scope="module")
def chelsea() -> np.ndarray:
    return data.chelsea()  # 300 x 451 photo of a cat


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a != b).any(axis=-1)


def test_folders_load_through_the_real_loaders_once(model_folders):
    grounding, sam = model_folders
    first = make_grounder(grounding, device="cpu")
    assert isinstance(first, TransformersGrounder)
    assert make_grounder(grounding, device="cpu").model is first.model
    segmenter = make_segmenter(sam, device="cpu")
    assert isinstance(segmenter, TransformersSegmenter)
    assert make_segmenter(sam, device="cpu").model is segmenter.model


def test_detections_are_boxes_inside_the_image_best_first_without_duplicates(resolver, chelsea):
    found = resolver.grounder.detect(chelsea, "cat")
    assert found
    height, width = chelsea.shape[:2]
    for d in found:
        x0, y0, x1, y1 = d.box
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert 0.0 <= d.score <= 1.0 and d.label == "cat"
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)
    assert all(box_iou(a.box, b.box) <= 0.5 for i, a in enumerate(found) for b in found[i + 1 :])


def test_several_phrases_label_each_box_with_one_of_them(resolver, chelsea):
    found = resolver.grounder.detect(chelsea, ["cat", "red car", "lamp"])
    assert found and {d.label for d in found} <= {"cat", "red car", "lamp"}


def test_sam_masks_one_per_box_at_image_size_reusing_the_embedding(resolver, chelsea):
    segmenter = resolver.segmenter
    segmenter.set_image(chelsea)
    embedding = segmenter.embeddings
    masks = segmenter.predict([(10.0, 20.0, 200.0, 250.0), (100.0, 50.0, 400.0, 290.0)])
    segmenter.set_image(chelsea.copy())
    assert segmenter.embeddings is embedding
    assert len(masks) == 2
    assert all(m.dtype == bool and m.shape == chelsea.shape[:2] for m in masks)
    assert segmenter.predict([]) == []


def test_a_click_becomes_a_mask_through_sam_point_prompts(resolver, chelsea):
    clicks = SamPointSegmenter(resolver.segmenter)
    first = clicks.segment_point(chelsea, 220, 150)
    embedding = resolver.segmenter.embeddings
    second = clicks.segment_point(chelsea, 100, 60)
    assert resolver.segmenter.embeddings is embedding  # one embedding for every click on a picture
    assert all(m.dtype == bool and m.shape == chelsea.shape[:2] for m in (first, second))
    with pytest.raises(ValueError, match="outside the 451x300 image"):
        clicks.segment_point(chelsea, 451, 10)


@pytest.mark.parametrize("select", [None, "all", "leftmost", "largest"])
def test_phrase_to_masks_on_a_real_photo(resolver, chelsea, select):
    masks = resolver.resolve(chelsea, Target(phrase="cat", select=select))
    assert masks and all(m.dtype == bool and m.shape == chelsea.shape[:2] and m.any() for m in masks)
    if select != "all":
        assert len(masks) == 1


def test_no_match_lists_what_the_detector_saw(model_folders, chelsea):
    grounding, sam = model_folders
    nothing_passes = make_grounder(grounding, device="cpu", thresholds=GroundingThresholds(box=1.0, text=1.0))
    strict = GroundedResolver(nothing_passes, make_segmenter(sam, device="cpu"), report_threshold=0.0)
    with pytest.raises(TargetNotFoundError) as caught:
        strict.resolve(chelsea, Target(phrase="lamp"))
    message = str(caught.value)
    assert message.startswith("no 'lamp' found; saw: ")
    listed = message.removeprefix("no 'lamp' found; saw: ").split(". ")[0].split(", ")
    for entry in listed:
        label, score = entry.rsplit(" ", 1)
        assert label in SURVEY_VOCABULARY and 0.0 <= float(score) <= 1.0


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "target": {"phrase": "cat"}},
        *(
            {"op": "move", "target": {"phrase": "cat", "select": select}, "dx": 0.1, "dy": -0.05}
            for select in ("leftmost", "rightmost", "topmost")
        ),
    ],
    ids=lambda op: f"{op['op']}-{op['target'].get('select')}",
)
def test_phrase_to_layers_to_pixel_edit_changes_nothing_outside_the_edit(resolver, chelsea, operation):
    plan = EditPlan.parse({"operations": [operation]})
    stack = LayerStack.build(chelsea, plan, resolver)
    [masks] = stack.objects.values()
    assert masks and all(m.shape == chelsea.shape[:2] for m in masks)
    result = PixelEngine().run(stack, plan)
    assert result.image.shape == chelsea.shape and result.image.dtype == np.uint8
    outside = ~result.scene.edited_region()
    assert outside.any()
    assert not changed(result.image, chelsea)[outside].any()


def test_a_shared_example_photo_end_to_end(resolver):
    image = load_image(example("moving/01_ball/0.jpg"))
    plan = EditPlan.parse({"operations": [{"op": "remove", "target": {"phrase": "ball"}}]})
    result = PixelEngine().run(LayerStack.build(image, plan, resolver), plan)
    assert result.image.shape == image.shape
    assert not changed(result.image, image)[~result.scene.edited_region()].any()


def test_a_given_box_wins_over_detection(resolver, chelsea):
    height, width = chelsea.shape[:2]
    given = box_mask((20, 30, 120, 130), (width, height))
    combined = CombinedResolver(NamedMasks({"cat": given}), resolver)
    assert np.array_equal(combined.resolve(chelsea, Target(phrase="cat"))[0], given)
    [detected] = combined.resolve(chelsea, Target(phrase="ball"))
    assert detected.shape == given.shape


def test_segment_writes_masks_and_overlay_from_the_models(resolver, chelsea, tmp_path):
    photo = save_image(chelsea, tmp_path / "chelsea.png")
    result = segment_image(photo, ["cat", "red car"], tmp_path / "masks", resolver)
    assert set(result.masks) == {"cat", "red car"} and not result.missing
    cat = load_image(result.masks["cat"])[..., 0] > 127
    assert np.array_equal(cat, np.logical_or.reduce([f.mask for f in result.found["cat"]]))
    assert load_image(result.overlay).shape == chelsea.shape
