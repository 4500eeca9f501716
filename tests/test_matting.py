"""Alpha matting on a real photo with a fuzzy border: the cat in scikit-image's sample images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import skimage.data

from layeredit.tools.masks import dilate, load_mask, scaled_px
from layeredit.tools.matting import DEFAULT_BAND, erode, matte, trimap

DATA = Path(__file__).parent / "data"


def test_cat_fur_gets_partial_alpha_along_the_border_only() -> None:
    image = skimage.data.chelsea()
    cat = load_mask(DATA / "chelsea_cat_mask.png", (image.shape[1], image.shape[0]))
    result = matte(image, cat)
    alpha = result.alpha
    assert alpha.shape == cat.shape and alpha.dtype == np.float32
    band = scaled_px(DEFAULT_BAND, image.shape)
    partial = (alpha > 0.05) & (alpha < 0.95)
    border = dilate(cat, 2) & ~erode(cat, 2)
    assert partial[border].mean() > 0.6  # fur strands: neither object nor background
    assert partial[dilate(cat, band) & ~erode(cat, band)].mean() > 0.3
    assert (alpha[erode(cat, band)] == 1.0).all() and (alpha[~dilate(cat, band)] == 0.0).all()
    # Colours in the band are the fur's own, with the background's share taken out.
    assert not np.array_equal(result.foreground[partial], image[partial])
    inside = erode(cat, band)
    assert np.array_equal(result.foreground[inside], image[inside])


def test_a_sharp_edge_stays_sharp_unlike_a_blur() -> None:
    image = np.zeros((96, 96, 3), np.uint8)
    image[30:70, 20:60] = (230, 200, 40)
    square = np.zeros((96, 96), bool)
    square[30:70, 20:60] = True
    alpha = matte(image, square).alpha
    assert np.abs(alpha - square).max() < 0.1


def test_trimap_marks_band_unknown_and_empty_masks_stay_empty() -> None:
    mask = np.zeros((40, 40), bool)
    mask[10:30, 10:30] = True
    tri = trimap(mask, 3)
    assert tri[20, 20] == 1.0 and tri[0, 0] == 0.0 and tri[10, 20] == 0.5
    empty = np.zeros((40, 40), bool)
    assert not matte(np.zeros((40, 40, 3), np.uint8), empty).alpha.any()


def half_size_cat() -> tuple[np.ndarray, np.ndarray]:
    image = skimage.data.chelsea()
    cat = load_mask(DATA / "chelsea_cat_mask.png", (image.shape[1], image.shape[0]))
    return image[::2, ::2].copy(), cat[::2, ::2].copy()


def test_the_solve_matches_pymattings_closed_form_matting_on_the_whole_picture() -> None:
    from pymatting import estimate_alpha_cf

    image, cat = half_size_cat()
    tri = trimap(cat, scaled_px(DEFAULT_BAND, image.shape))
    expected = np.clip(estimate_alpha_cf(image / 255.0, tri), 0.0, 1.0)
    unknown = tri == 0.5
    assert np.abs(matte(image, cat).alpha[unknown] - expected[unknown]).max() < 1e-3


class Stop(Exception):
    pass


def test_every_step_of_the_matting_reports_and_a_report_can_stop_it() -> None:
    image, cat = half_size_cat()
    heard: list[tuple[str, int, int]] = []
    matte(image, cat, progress=lambda stage, done, total: heard.append((stage, done, total)))
    steps = [done for _, done, _ in heard]
    assert {stage for stage, _, _ in heard} == {"matting"} and {total for _, _, total in heard} == {4}
    assert steps[:3] == [0, 1, 2] and steps[-1] == 3 and steps.count(2) >= 3  # solver iterations too

    reports: list[int] = []

    def stop_at_the_first_solver_iteration(stage: str, done: int, total: int) -> None:
        reports.append(done)
        if reports.count(2) == 2:
            raise Stop

    try:
        matte(image, cat, progress=stop_at_the_first_solver_iteration)
    except Stop:
        pass
    else:
        raise AssertionError("a report that raises must stop the matting")
    assert reports == [0, 1, 2, 2]
