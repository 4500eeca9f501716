"""The pixel engine's bounded-size hole fill and the linear-cost mask growth it relies on."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from layeredit.engine.fill import fill_hole
from layeredit.engine.pixel import inpaint
from layeredit.tools.masks import dilate, feather


def grain(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.normal(128, 30, (*shape, 3))
    return np.clip(noise, 0, 255).astype(np.uint8)


def laplacian_var(image: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


@pytest.mark.parametrize("working_side", [64, 4096])
def test_fill_keeps_the_grain_of_the_surroundings_and_nothing_else_changes(working_side):
    image = grain((600, 800))
    hole = np.zeros((600, 800), dtype=bool)
    hole[250:350, 350:470] = True
    filled = fill_hole(image, hole, radius=5, working_side=working_side)
    assert np.array_equal(filled[~hole], image[~hole])
    assert abs(laplacian_var(filled[250:350, 350:470]) / laplacian_var(image[100:200, 100:220]) - 1) < 0.25
    # Telea alone paints a smooth patch: the grain is what the fill adds.
    smooth = inpaint(image, hole, radius=5)
    assert laplacian_var(smooth[250:350, 350:470]) < 0.2 * laplacian_var(image[100:200, 100:220])
    assert abs(filled[hole].mean() - image[~hole].mean()) < 10


def test_fill_at_a_small_working_size_matches_the_colours_around_the_hole():
    image = np.zeros((400, 600, 3), dtype=np.uint8)
    image[:, :300] = (200, 40, 40)
    image[:, 300:] = (40, 40, 200)
    hole = np.zeros((400, 600), dtype=bool)
    hole[150:250, 100:200] = True  # inside the red half
    filled = fill_hole(image, hole, radius=4, working_side=48)
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
