"""Resolution strategies on a 12-megapixel photo: crop keeps detail where the edit is, every
strategy keeps untouched pixels exact, a far move is windowed whole and lands where the plan says."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from layeredit.api import edit
from layeredit.engine.designedit import DesignEditConfig, DesignEditEngine
from layeredit.engine.resolution import ResolutionParams
from layeredit.tools.masks import bbox
from tests.hires_photo import phone_photo
from tests.tiny_models import tiny_sdxl

REMOVE_STONE = {"operations": [{"op": "remove", "target": {"phrase": "stone"}}]}
MOVE_STONE = {"operations": [{"op": "move", "target": {"phrase": "stone"}, "dx": 0.05, "dy": 0.03}]}


@pytest.fixture(scope="module")
def photo() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """4000 x 3000 with a small textured stone (a disc of radius 80 px) at (0.2, 0.3)."""
    return phone_photo()


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def window_of(result) -> tuple[int, int, int, int]:
    return tuple(int(v) for v in result.stats["hd_window"].split(","))


def _untouched_exact(result, image: np.ndarray) -> None:
    outside = ~result.scene.edited_region()
    assert outside.mean() > 0.5
    assert np.array_equal(result.image[outside], image[outside])


def test_crop_keeps_the_detail_of_a_small_edit_that_resize_loses(photo):
    image, masks = photo
    crop = edit(image, MOVE_STONE, masks={"stone": masks["stone"]}, hd_strategy="crop")
    resize = edit(image, MOVE_STONE, masks={"stone": masks["stone"]}, hd_strategy="resize")
    assert crop.stats["hd_strategy"] == "crop" and resize.stats["hd_strategy"] == "resize"
    x0, y0, x1, y1 = bbox(crop.scene.edited_region())
    before = sharpness(image[y0:y1, x0:x1])
    assert abs(sharpness(crop.image[y0:y1, x0:x1]) / before - 1) < 0.2
    assert sharpness(resize.image[y0:y1, x0:x1]) < 0.5 * before
    for result in (crop, resize):
        _untouched_exact(result, image)


def test_a_far_move_gets_one_window_over_both_places_and_lands_where_the_plan_says(photo):
    image, masks = photo
    stone = masks["stone"]
    plan = {"operations": [{"op": "move", "target": {"phrase": "stone"}, "to": {"x": 0.85, "y": 0.3}}]}
    result = edit(image, plan, masks={"stone": stone}, hd_strategy="auto")
    assert result.stats["hd_strategy"] == "crop"
    assert result.layers[1].rgba.shape == (*image.shape[:2], 4)
    (layer,) = result.scene.drawn
    dx, dy = layer.offset
    assert abs(dx - round(0.65 * image.shape[1])) <= 1 and abs(dy) <= 1
    x0, y0, x1, y1 = window_of(result)
    assert result.stats["hd_size"] == f"{x1 - x0}x{y1 - y0}"
    for sx0, sy0, sx1, sy1 in (bbox(result.scene.hole), bbox(layer.placed_mask())):
        assert x0 <= sx0 and y0 <= sy0 and sx1 <= x1 and sy1 <= y1
    assert y1 - y0 < image.shape[0] / 2  # a window, not the photo
    inner = cv2.erode(stone.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    ys, xs = np.nonzero(inner)
    assert np.array_equal(result.image[ys + dy, xs + dx], image[ys, xs])
    _untouched_exact(result, image)


@pytest.mark.parametrize("strategy", ["auto", "crop", "resize", "original"])
def test_untouched_pixels_are_exact_with_every_strategy_on_the_pixel_engine(strategy):
    image, masks = phone_photo((1600, 1200), object_radius=40)
    result = edit(image, MOVE_STONE, masks={"stone": masks["stone"]}, hd_strategy=strategy)
    assert result.stats["hd_strategy"] == ("crop" if strategy == "auto" else strategy)
    _untouched_exact(result, image)


def test_pan_uses_resize_and_keeps_the_panned_photo_outside_the_new_strip():
    image, _ = phone_photo((1600, 1200), object_radius=40)
    result = edit(image, {"operations": [{"op": "pan", "dx": 0.1}]}, hd_strategy="crop")
    assert result.stats["hd_strategy"] == "resize" and result.stats["hd_size"] == "1182x887"
    outside = ~result.scene.edited_region()
    assert np.array_equal(result.image[outside], result.scene.background[outside])


def test_small_photos_are_edited_at_their_original_size(soccer):
    image, boy = soccer
    result = edit(image, "remove the boy", masks={"boy": boy})
    assert result.stats["hd_strategy"] == "original" and result.stats["hd_size"] == "512x512"
    forced = edit(image, "remove the boy", masks={"boy": boy}, hd_strategy=ResolutionParams(hd_trigger=256))
    assert forced.stats["hd_strategy"] in ("crop", "resize")


def test_bad_strategy_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown hd strategy 'tiles'; choose one of auto, crop"):
        ResolutionParams(hd_strategy="tiles")


@pytest.fixture(scope="module")
def tiny_diffusion(tmp_path_factory: pytest.TempPathFactory) -> DesignEditEngine:
    pipe = tiny_sdxl(Path(tmp_path_factory.mktemp("tiny")))
    config = DesignEditConfig(steps=2, resolution=32, progress_bar=False)
    return DesignEditEngine(pipe, config, model_id="tiny")


@pytest.mark.parametrize("strategy", ["crop", "resize", "original"])
def test_diffusion_engine_shares_the_strategies(tiny_diffusion, strategy):
    image, masks = phone_photo((192, 144), object_radius=8)
    masks = {"stone": masks["stone"]}
    result = edit(image, MOVE_STONE, masks=masks, engine=tiny_diffusion, hd_strategy=strategy)
    assert result.stats["hd_strategy"] == strategy and result.image.shape == image.shape
    _untouched_exact(result, image)
    x0, y0, x1, y1 = window_of(result)
    width, height = (int(v) for v in result.stats["working_size"].split("x"))
    if strategy == "crop":
        assert (x1 - x0) * (y1 - y0) < 0.3 * 192 * 144
        assert width * height <= 2 * 32 * 32  # the window at the model's working area
    elif strategy == "original":
        assert width * height >= 0.8 * 192 * 144  # full size
    else:
        assert width * height <= 2 * 32 * 32


def test_a_diffusion_engine_that_keeps_nothing_gets_the_whole_photo_back(tiny_diffusion):
    # --no-preserve: the engine changes every pixel, so auto does not crop to the edit and the
    # resized result is pasted whole, not only inside the edited region.
    image, masks = phone_photo((192, 144), object_radius=8)
    config = DesignEditConfig(steps=2, resolution=32, progress_bar=False, preserve_unedited=False)
    engine = DesignEditEngine(tiny_diffusion.pipe, config, model_id="tiny")
    result = edit(image, MOVE_STONE, masks={"stone": masks["stone"]}, engine=engine)
    assert result.stats["hd_strategy"] == "resize" and result.image.shape == image.shape
    outside = ~result.scene.edited_region()
    assert (result.image[outside] != image[outside]).any(axis=-1).mean() > 0.5
