"""bench/fill.py runs on a clone: its photos and hand masks are bundled, its holes have the stated sizes."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import bench_module


@pytest.fixture(scope="module")
def bench():
    return bench_module("fill")


def test_pairs_cover_every_photo_shape_and_size_with_holes_of_the_stated_area(bench):
    pairs = list(bench.pairs(256, quick=False))
    assert len(pairs) == 7 * 4 * 3
    assert {kind for _, kind, *_ in pairs} == {"object", "blob", "stroke", "box"}
    for name, kind, fraction, image, hole in pairs:
        assert image.shape[:2] == hole.shape and max(hole.shape) == 256, name
        assert hole.any() and not hole.all()
        # Shapes are scaled to the fraction; rounding and clipping at the border cost a little.
        assert 0.5 * fraction < hole.mean() < 1.6 * fraction, (name, kind, fraction, hole.mean())


def test_scores_are_perfect_for_the_truth_and_worse_for_a_grey_patch(bench):
    image = next(image for name, image in bench.photos(128) if name == "chelsea")
    hole = np.zeros(image.shape[:2], dtype=bool)
    hole[30:90, 40:100] = True
    perfect = bench.scores(image, image, hole)
    assert perfect["psnr"] > 100 and perfect["ssim"] == pytest.approx(1.0)
    assert perfect["texture"] == pytest.approx(1.0)
    grey = image.copy()
    grey[hole] = 128
    worse = bench.scores(grey, image, hole)
    assert worse["psnr"] < 25 and worse["texture"] < 0.1 and worse["haarpsi"] < perfect["haarpsi"]
