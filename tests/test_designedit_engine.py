"""The DesignEdit engine end to end with tiny random-weight models loaded from disk like a user's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from layeredit.engine.designedit import DesignEditConfig, DesignEditEngine, ModelNotFoundError, load_pipeline
from layeredit.engine.layers import LayerStack, fit_to_canvas
from layeredit.imageio import load_image
from layeredit.plan import EditPlan
from layeredit.tools.masks import load_mask
from tests.conftest import example
from tests.tiny_models import save_tiny_sd15, save_tiny_sdxl

FAST = {"steps": 5, "resolution": 64, "progress_bar": False}


@pytest.fixture(scope="module")
def sdxl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl")


@pytest.fixture(scope="module")
def engine(sdxl_dir: Path) -> DesignEditEngine:
    return DesignEditEngine.from_pretrained(str(sdxl_dir), device="cpu", config=DesignEditConfig(**FAST))


def _fresh(engine: DesignEditEngine, **overrides) -> DesignEditEngine:
    """The same loaded model with its own config and an empty inversion cache."""
    return DesignEditEngine(engine.pipe, DesignEditConfig(**{**FAST, **overrides}), model_id=engine.model_id)


@pytest.fixture(scope="module")
def ball() -> LayerStack:
    image = load_image(example("moving/01_ball/0.jpg"))
    return LayerStack(image=image, objects={"ball": [load_mask(example("moving/01_ball/mask0.jpg"))]})


@pytest.fixture(scope="module")
def ring() -> LayerStack:
    folder = "remove/02_ring"
    masks = [load_mask(example(f"{folder}/mask{i}.jpg")) for i in range(3)]
    objects = {"ring": [masks[0]], "hand": [masks[1]], "box": [masks[2]]}
    return LayerStack(image=load_image(example(f"{folder}/0.jpg")), objects=objects)


def _with_foreign(stack: LayerStack, *sources: tuple[str, str]) -> LayerStack:
    foreign = dict(stack.foreign)
    for picture, mask in sources:
        other = load_image(example(picture))
        foreign[(picture, "thing")] = fit_to_canvas(other, [load_mask(example(mask))], stack.size)
    return LayerStack(image=stack.image, objects=stack.objects, foreign=foreign)


PLANS = {
    "remove": [{"op": "remove", "target": {"phrase": "ball"}}],
    "move": [{"op": "move", "target": {"phrase": "ball"}, "dx": -0.2, "dy": 0.1}],
    "resize": [{"op": "resize", "target": {"phrase": "ball"}, "scale": 1.4}],
    "flip": [{"op": "flip", "target": {"phrase": "ball"}, "axis": "vertical"}],
    "duplicate": [{"op": "duplicate", "target": {"phrase": "ball"}}],
    "reorder": [{"op": "reorder", "target": {"phrase": "ball"}, "position": "front"}],
    "pan": [{"op": "pan", "dx": 0.2}],
    "zoom_out": [{"op": "zoom_out", "scale": 0.75}],
    "insert": [{"op": "insert", "source": "layer/03_text/01.jpg", "target": {"phrase": "thing"}, "dx": 0.1}],
    "move off the frame": [{"op": "move", "target": {"phrase": "ball"}, "dx": 0.9}],
    "several": [
        {"op": "move", "target": {"phrase": "ball"}, "dx": 0.2},
        {"op": "flip", "target": {"phrase": "ball"}},
        {"op": "pan", "dy": -0.1},
    ],
}


def _check_preserved(result, stack: LayerStack) -> None:
    assert result.image.shape == stack.image.shape and result.image.dtype == np.uint8
    outside = ~result.scene.edited_region()
    assert outside.any()
    assert np.array_equal(result.image[outside], stack.image[outside])


@pytest.mark.parametrize("name", list(PLANS))
def test_every_plan_op_runs_end_to_end(engine: DesignEditEngine, ball: LayerStack, name: str) -> None:
    stack = ball
    if name == "insert":
        stack = _with_foreign(ball, ("layer/03_text/01.jpg", "layer/03_text/mask1.jpg"))
    result = engine.run(stack, EditPlan.parse({"operations": PLANS[name]}))
    _check_preserved(result, stack)
    assert result.stats["model"] == engine.model_id and result.stats["steps"] == 5
    assert [layer.name for layer in result.layers][0] == "background"


def test_swap_with_refine_mask_on_sd15_non_square(tmp_path: Path) -> None:
    model = save_tiny_sd15(tmp_path / "tiny-sd15")
    engine = DesignEditEngine.from_pretrained(str(model), "cpu", DesignEditConfig(**FAST))
    folder = "remove/03_ball"  # 320 x 512
    masks = [load_mask(example(f"{folder}/mask{i}.jpg")) for i in range(2)]
    image = load_image(example(f"{folder}/0.jpg"))
    refine = np.zeros(image.shape[:2], bool)
    refine[:40, :] = True
    stack = LayerStack(image=image, objects={"a": [masks[0]], "b": [masks[1]]}, refine_mask=refine)
    swap = {"op": "swap", "target": {"phrase": "a"}, "other": {"phrase": "b"}}
    plan = EditPlan.parse({"operations": [swap]})
    result = engine.run(stack, plan)
    _check_preserved(result, stack)
    width, height = (int(side) for side in str(result.stats["working_size"]).split("x"))
    assert height > width and width % 4 == 0


def test_without_preserve_the_whole_picture_is_decoded(engine: DesignEditEngine, ball: LayerStack) -> None:
    plan = EditPlan.parse({"operations": PLANS["remove"]})
    result = _fresh(engine, preserve_unedited=False).run(ball, plan)
    outside = ~result.scene.edited_region()
    assert result.image.shape == ball.image.shape
    assert not np.array_equal(result.image[outside], ball.image[outside])


def _expected(steps: int, pictures: int, key_masked: int, fusion: int) -> int:
    """N·P + 2·K + (F − K) + (N − F), the formula documented in pipeline.py."""
    return steps * pictures + 2 * key_masked + (fusion - key_masked) + (steps - fusion)


def test_unet_calls_follow_the_documented_formula(engine: DesignEditEngine, ball: LayerStack) -> None:
    tested = _fresh(engine, steps=10)  # key masking on steps 2..8 (K = 7), fusion after step 8
    remove = tested.run(ball, EditPlan.parse({"operations": PLANS["remove"]}))
    assert remove.stats["unet_calls"] == _expected(10, 1, 7, 8) == 27
    tested.cache.clear()
    move = tested.run(ball, EditPlan.parse({"operations": PLANS["move"]}))
    # The moved layer's picture is the source: its inversion is shared.
    assert move.stats["unet_calls"] == _expected(10, 1, 7, 8) == 27

    stack = _with_foreign(ball, ("layer/03_text/01.jpg", "layer/03_text/mask1.jpg"),
                          ("layer/01_horse/00.jpg", "layer/01_horse/mask0.jpg"))
    three_layers = EditPlan.parse({"operations": [
        PLANS["move"][0],
        {"op": "insert", "source": "layer/03_text/01.jpg", "target": {"phrase": "thing"}, "dx": 0.1},
        {"op": "insert", "source": "layer/01_horse/00.jpg", "target": {"phrase": "thing"}, "dx": -0.1},
    ]})
    tested.cache.clear()
    result = tested.run(stack, three_layers)
    assert result.stats["layers"] == 3 and result.stats["pictures_inverted"] == 3
    assert result.stats["unet_calls"] == _expected(10, 3, 7, 8) == 47


def test_second_edit_of_the_same_image_skips_inversion(engine: DesignEditEngine, ring: LayerStack) -> None:
    tested = _fresh(engine)
    def remove(phrase: str) -> EditPlan:
        return EditPlan.parse({"operations": [{"op": "remove", "target": {"phrase": phrase}}]})

    first, second = tested.run(ring, remove("box")), tested.run(ring, remove("hand"))
    assert first.stats["pictures_inverted"] == 1 and second.stats["pictures_inverted"] == 0
    assert second.stats["unet_calls"] == first.stats["unet_calls"] - 5


def test_same_seed_same_image_and_progress_is_reported(engine: DesignEditEngine, ring: LayerStack) -> None:
    plan = EditPlan.parse({"operations": [{"op": "move", "target": {"phrase": "box"}, "dx": 0.1}]})
    seen: list[tuple[str, int, int]] = []
    first = _fresh(engine).run(ring, plan, progress=lambda *event: seen.append(event))
    second = _fresh(engine).run(ring, plan)
    assert np.array_equal(first.image, second.image)
    assert ("invert", 5, 5) in seen and ("denoise", 5, 5) in seen
    assert [event for event in seen if event[0] == "denoise"][0] == ("denoise", 1, 5)


def test_processors_are_restored_after_an_edit(engine: DesignEditEngine, ring: LayerStack) -> None:
    before = engine.pipe.unet.attn_processors
    engine.run(ring, EditPlan.parse({"operations": [{"op": "remove", "target": {"phrase": "ring"}}]}))
    after = engine.pipe.unet.attn_processors
    assert all(after[name] is processor for name, processor in before.items())


def test_missing_local_model_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError) as raised:
        load_pipeline(str(tmp_path / "no-such-model"), device="cpu")
    message = str(raised.value)
    assert "no-such-model" in message and "hf download" in message and "--model" in message


def test_missing_hub_model_gives_a_clear_error() -> None:
    with pytest.raises(ModelNotFoundError) as raised:
        DesignEditEngine.from_pretrained("stabilityai/stable-diffusion-xl-base-1.0", device="cpu")
    message = str(raised.value)
    assert "'stabilityai/stable-diffusion-xl-base-1.0' is not available" in message
    assert "hf download stabilityai/stable-diffusion-xl-base-1.0" in message
    assert "--model /path/to/folder" in message
    assert "\n" not in message and "Traceback" not in message
