"""Soft object edges by alpha matting: hair and fur come out partly transparent, not cut.

A segmentation mask is hard and sits somewhere inside the fuzzy border. A trimap marks a band
around the mask border as unknown, everything well inside as object and everything well outside
as background; closed-form matting (Levin et al., via pymatting) then solves the alpha of the band
from the picture's colours, and the object's colours there are separated from the background's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from layeredit.tools.masks import dilate, scaled_px

# Half-width of the unknown band at 1024x1024: wide enough for hair, narrow enough that the known
# regions hold the colours of both sides.
DEFAULT_BAND = 16.0
STAGE = "matting"
# The solve's steps, reported to ``progress`` so a caller's time limit can stop it between them:
# the matting Laplacian, its preconditioner, the conjugate-gradient iterations, the colours.
STEPS = 4


@dataclass
class Matte:
    alpha: np.ndarray  # H x W float32 in [0, 1]
    foreground: np.ndarray  # H x W x 3 uint8: the object's own colours, background colour removed


def erode(mask: np.ndarray, px: int) -> np.ndarray:
    return ~dilate(~mask, px)


def trimap(mask: np.ndarray, band_px: int) -> np.ndarray:
    """H x W float64: 1 well inside the mask, 0 well outside, 0.5 in the band along its border."""
    result = np.full(mask.shape, 0.5)
    result[erode(mask, band_px)] = 1.0
    result[~dilate(mask, band_px)] = 0.0
    return result


def matte(
    image: np.ndarray,
    mask: np.ndarray,
    band: float = DEFAULT_BAND,
    progress: Callable[[str, int, int], None] | None = None,
) -> Matte:
    """The alpha matte of the object ``mask`` marks in ``image``, refined within ``band`` px (at
    1024) of the mask border. ``progress(stage, done, total)`` is called before each step of the
    solve and at every solver iteration; an exception it raises stops the matting there."""
    try:
        from pymatting import cf_laplacian, cg, estimate_foreground_ml, ichol, trimap_split
    except ImportError as exc:
        raise ImportError(
            f"soft edges need pymatting ({exc.name} is missing): pip install 'layeredit[layers]', "
            "or turn matting off (--hard-edges)"
        ) from None
    report = progress or (lambda stage, done, total: None)
    alpha = mask.astype(np.float32)
    foreground = image.copy()
    if not mask.any() or mask.all():
        return Matte(alpha, foreground)
    band_px = scaled_px(band, image.shape)
    # Only the band and the known rims beside it take part: solve on their bounding box.
    rows, cols = np.nonzero(dilate(mask, 2 * band_px) & ~erode(mask, 2 * band_px))
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    crop = (slice(top, bottom), slice(left, right))
    pixels = image[crop].astype(np.float64) / 255.0
    tri = trimap(mask, band_px)[crop]
    # Closed-form matting (Levin et al.) as pymatting's estimate_alpha_cf solves it, in its steps:
    # the unknown band's alpha solves L_U x = -R m, with m the known pixels that are object.
    report(STAGE, 0, STEPS)
    is_object, _, is_known, is_unknown = trimap_split(tri)
    laplacian = cf_laplacian(pixels, is_known=is_known)
    unknown_rows = laplacian[is_unknown, :]
    system, beside = unknown_rows[:, is_unknown], unknown_rows[:, is_known]
    report(STAGE, 1, STEPS)
    preconditioner = ichol(system)
    report(STAGE, 2, STEPS)
    solved = tri.copy().ravel()
    solved[is_unknown] = cg(
        system, -beside.dot(is_object[is_known]), M=preconditioner,
        callback=lambda *_: report(STAGE, 2, STEPS),
    )  # fmt: skip
    solved = np.clip(solved, 0.0, 1.0).reshape(tri.shape)
    report(STAGE, 3, STEPS)
    colours = estimate_foreground_ml(pixels, solved)
    alpha[crop] = np.where(tri == 0.5, solved, tri)
    unknown = tri == 0.5
    foreground[crop][unknown] = np.clip(np.round(colours[unknown] * 255), 0, 255).astype(np.uint8)
    return Matte(alpha, foreground)
