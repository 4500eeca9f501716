"""The pixel engine's bounded-size hole fill and the linear-cost mask growth it relies on."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from layeredit.engine import fill as fill_module
from layeredit.engine.fill import fill_hole, fill_method, smooth_fill
from layeredit.tools.masks import dilate, feather


def grain(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.normal(128, 30, (*shape, 3))
    return np.clip(noise, 0, 255).astype(np.uint8)


def laplacian_var(image: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def telea(image: np.ndarray, hole: np.ndarray, radius: int) -> np.ndarray:
    return cv2.inpaint(image, hole.astype(np.uint8) * 255, radius, cv2.INPAINT_TELEA)


def test_the_pixel_engine_fills_with_patchmatch_here():
    # `make test` installs PyPatchMatch: the fallback must not be what the suite measures.
    assert fill_method() == "patchmatch"


@pytest.mark.parametrize("fill", ["patchmatch", "smooth-64", "smooth-4096", "smooth-full"])
def test_fill_keeps_the_grain_of_the_surroundings_and_nothing_else_changes(fill):
    image = grain((600, 800))
    hole = np.zeros((600, 800), dtype=bool)
    hole[250:350, 350:470] = True
    filled = run_fill(fill, image, hole)
    assert np.array_equal(filled[~hole], image[~hole])
    assert abs(laplacian_var(filled[250:350, 350:470]) / laplacian_var(image[100:200, 100:220]) - 1) < 0.25
    # Telea alone paints a smooth patch: the grain is what the fill adds.
    smooth = telea(image, hole, radius=5)
    assert laplacian_var(smooth[250:350, 350:470]) < 0.2 * laplacian_var(image[100:200, 100:220])
    assert abs(filled[hole].mean() - image[~hole].mean()) < 10


def run_fill(fill: str, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    if fill == "patchmatch":
        return fill_hole(image, hole, radius=5, working_side=512)
    side = fill.removeprefix("smooth-")
    return smooth_fill(image, hole, radius=5, working_side=None if side == "full" else int(side))


@pytest.mark.parametrize("fill", ["patchmatch", "smooth-64", "smooth-full"])
def test_no_pixel_of_the_hole_changes_the_fill(fill):
    """The removed object is gone: what was in the hole must not shape what is painted there."""
    rng = np.random.default_rng(3)
    image = grain((240, 320))
    image[:, 160:] = image[:, 160:] // 2 + 100  # an edge beside the hole, so the fill has structure
    hole = np.zeros((240, 320), dtype=bool)
    hole[90:150, 130:200] = True
    reference = run_fill(fill, image, hole)
    for _ in range(3):
        changed = image.copy()
        changed[hole] = rng.integers(0, 256, (int(hole.sum()), 3))
        assert np.array_equal(run_fill(fill, changed, hole), reference)
    # One changed pixel, at the hole's corner next to the border where a blur reaches furthest.
    changed = image.copy()
    changed[90, 130] = 255 - changed[90, 130]
    assert np.array_equal(run_fill(fill, changed, hole), reference)


def test_patchmatch_fill_repeats_and_continues_a_pattern():
    stripes = np.zeros((200, 300, 3), dtype=np.uint8)
    stripes[:, (np.arange(300) // 10) % 2 == 0] = (220, 200, 40)
    hole = np.zeros((200, 300), dtype=bool)
    hole[70:130, 120:185] = True
    first = fill_hole(stripes, hole, radius=5, working_side=512)
    assert np.array_equal(first, fill_hole(stripes, hole, radius=5, working_side=512))
    # Copied patches continue the stripes; a smooth fill would leave a grey blend.
    inside = first[hole].astype(int)
    near_stripe_colours = np.minimum(
        np.abs(inside - (220, 200, 40)).sum(axis=1), np.abs(inside).sum(axis=1)
    )
    assert np.mean(near_stripe_colours < 60) > 0.9
    assert np.abs(first[hole].astype(int) - stripes[hole].astype(int)).mean() < 40


def test_patchmatch_works_shrunk_on_a_neighbourhood_beyond_its_side(monkeypatch):
    monkeypatch.setattr(fill_module, "PATCHMATCH_SIDE", 64)
    image = grain((300, 400))
    hole = np.zeros((300, 400), dtype=bool)
    hole[120:180, 150:260] = True
    filled = fill_hole(image, hole, radius=5, working_side=512)
    assert np.array_equal(filled[~hole], image[~hole])
    assert abs(filled[hole].mean() - image[~hole].mean()) < 10


def test_fill_at_a_small_working_size_matches_the_colours_around_the_hole():
    image = np.zeros((400, 600, 3), dtype=np.uint8)
    image[:, :300] = (200, 40, 40)
    image[:, 300:] = (40, 40, 200)
    hole = np.zeros((400, 600), dtype=bool)
    hole[150:250, 100:200] = True  # inside the red half
    for filled in (fill_hole(image, hole, radius=4, working_side=48),
                   smooth_fill(image, hole, radius=4, working_side=48)):  # fmt: skip
        assert np.abs(filled[hole].astype(int) - (200, 40, 40)).max() <= 12


def test_fill_refuses_a_hole_covering_everything():
    with pytest.raises(ValueError, match="nothing is left to paint from"):
        fill_hole(grain((20, 20)), np.ones((20, 20), bool), radius=3, working_side=64)


@pytest.mark.parametrize("px", [1, 5, 40])
def test_dilate_grows_by_a_euclidean_disc(px):
    mask = np.zeros((101, 121), dtype=bool)
    mask[50, 60] = True
    ys, xs = np.mgrid[:101, :121]
    disc = (ys - 50) ** 2 + (xs - 60) ** 2 <= px * px
    assert np.array_equal(dilate(mask, px), disc)


def test_dilate_and_feather_near_the_border_match_the_whole_frame_computation():
    mask = np.zeros((80, 90), dtype=bool)
    mask[0:10, 70:90] = True  # touches the top and right edges
    distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    assert np.array_equal(dilate(mask, 12), distance <= 12)
    sigma = 8 / 3
    whole = cv2.GaussianBlur((distance <= 4).astype(np.float32), (0, 0), sigmaX=sigma, sigmaY=sigma)
    np.testing.assert_allclose(feather(mask, 8), np.maximum(mask, whole), atol=1e-6)
