"""Hole filling for the pixel engine: PatchMatch where its library loads, a smooth fill otherwise.

PatchMatch (the PyPatchMatch package, the infill InvokeAI uses) fills a hole with patches copied
from around it, so the fill carries the texture and structure of its surroundings; smooth methods
(Telea and friends) leave blurred wedges. On the known-background benchmark (``bench/fill.py``,
``bench/RESULTS.md``) it beats the smooth fill on PSNR and on a perceptual score inside the hole.

The smooth fill stays as the fallback where the library cannot load: Telea inpainting on the
hole's neighbourhood at a bounded working size, plus the fine texture of a strip beside the hole
copied in at full size, so that its cost stays close to linear in the pixel count.

The hole's own pixels (the removed object) never shape the fill: PatchMatch copies only from
outside the hole, and the smooth fill estimates texture only once the hole holds its paint
(``tests/test_fill.py`` changes hole pixels and checks that the fill stays the same).
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from types import ModuleType

import cv2
import numpy as np

from layeredit.errors import InputError
from layeredit.tools.masks import bbox_of, grown_box

log = logging.getLogger(__name__)

# PatchMatch's patch radius (7x7 patches): the best of the sizes tried on the known-background bench.
PATCH_SIZE = 3
# The hole's neighbourhood is painted by PatchMatch at most at this side's square area.
PATCHMATCH_SIDE = 2048
# Patches are drawn from a ring around the hole's box this many times its longer side wide (wider
# rings were no better on the bench, and slower).
SOURCE_RING = 0.5
# The random search is seeded so that the same edit gives the same picture.
SEED = 0

# Smooth fill: texture finer than this many working pixels (a Gaussian's sigma) is copied from
# beside the hole; coarser structure comes from the inpainting.
DETAIL_SIGMA = 2.0
# Copied texture is clipped to this many standard deviations of the texture around the hole.
GRAIN_LIMIT = 2.5

# The library keeps its seed in one global: a seeded fill holds this lock.
_PATCHMATCH_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def patchmatch() -> ModuleType | None:
    """PyPatchMatch's module when its native library loads, else None (said once, in one line)."""
    try:
        from patchmatch import patch_match
    except ImportError:
        patch_match = None
    if patch_match is None or not patch_match.patchmatch_available:
        log.warning(
            "PatchMatch is not available, so holes get the smooth fill (softer, less texture); "
            "`pip install pypatchmatch` brings it"
        )
        return None
    return patch_match


def fill_method() -> str:
    """The fill that :func:`fill_hole` uses here: "patchmatch" or "smooth"."""
    return "patchmatch" if patchmatch() is not None else "smooth"


def fill_hole(image: np.ndarray, hole: np.ndarray, radius: int, working_side: int | None) -> np.ndarray:
    """Fill ``hole`` from its surroundings; pixels outside the hole are untouched.

    ``working_side`` bounds the smooth fill's working area (None: full size); ``radius`` is the
    smooth fill's inpainting radius in full-size pixels. PatchMatch, where available, works at
    full size up to :data:`PATCHMATCH_SIDE` squared.
    """
    if not hole.any():
        return image.copy()
    if hole.all():
        raise InputError("the whole image would have to be painted; nothing is left to paint from")
    if patchmatch() is not None:
        return patchmatch_fill(image, hole)
    return smooth_fill(image, hole, radius, working_side)


def patchmatch_fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """PatchMatch on the hole's box and a ring around it (shrunk to at most PATCHMATCH_SIDE²)."""
    library = patchmatch()
    if library is None:
        raise RuntimeError("PatchMatch's library is not available")
    box = bbox_of(hole)
    ring = math.ceil(SOURCE_RING * max(box[2] - box[0], box[3] - box[1]))
    x0, y0, x1, y1 = grown_box(box, ring, hole.shape)
    picture, inside = image[y0:y1, x0:x1], hole[y0:y1, x0:x1]
    scale = min(1.0, PATCHMATCH_SIDE / math.sqrt(picture.shape[0] * picture.shape[1]))
    if scale < 1.0:
        size = (max(1, round(picture.shape[1] * scale)), max(1, round(picture.shape[0] * scale)))
        small = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
        # Any working pixel the hole touches is painted, so nothing of a removed object survives.
        small_hole = cv2.resize(inside.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
        painted = _seeded_patchmatch(library, small, small_hole)
        painted = cv2.resize(painted, (picture.shape[1], picture.shape[0]), interpolation=cv2.INTER_CUBIC)
    else:
        painted = _seeded_patchmatch(library, picture, inside)
    out = image.copy()
    out[y0:y1, x0:x1] = np.where(inside[..., None], painted, picture)
    return out


def _seeded_patchmatch(library: ModuleType, picture: np.ndarray, hole: np.ndarray) -> np.ndarray:
    if hole.all():  # a working size so small that no pixel is left to copy from
        hole = hole.copy()
        hole[0, 0] = False
    with _PATCHMATCH_LOCK:
        library.set_random_seed(SEED)
        return library.inpaint(np.ascontiguousarray(picture), hole.astype(np.uint8), patch_size=PATCH_SIZE)


def smooth_fill(image: np.ndarray, hole: np.ndarray, radius: int, working_side: int | None) -> np.ndarray:
    """Telea inpainting on the hole's neighbourhood shrunk to at most ``working_side`` squared
    pixels, with the fine texture copied at full resolution from beside the hole."""
    box = bbox_of(hole)
    x0, y0, x1, y1 = grown_box(box, 2 * radius, hole.shape)
    picture, inside = image[y0:y1, x0:x1], hole[y0:y1, x0:x1]
    area_side = math.sqrt(picture.shape[0] * picture.shape[1])
    scale = 1.0 if working_side is None else min(1.0, working_side / area_side)
    sigma = DETAIL_SIGMA / scale
    painted = _telea_at_scale(picture, inside, radius, scale)
    # From here on the hole holds the paint, never the removed object: the texture and its
    # amplitude are estimated by blurs that reach into the hole.
    clean = image.copy()
    clean[y0:y1, x0:x1] = np.where(inside[..., None], painted, picture)
    picture = clean[y0:y1, x0:x1]
    # The fill keeps only what is coarser than sigma; the finer texture is copied in.
    smooth = cv2.GaussianBlur(painted, (0, 0), sigmaX=sigma, sigmaY=sigma)
    texture = np.zeros(picture.shape, dtype=np.float32)
    bx0, by0, bx1, by1 = box
    texture[by0 - y0 : by1 - y0, bx0 - x0 : bx1 - x0] = texture_beside(clean, hole, box, sigma)
    # The strip may hold an edge the hole's surroundings do not: keep to their grain's amplitude.
    around = picture.astype(np.float32) - cv2.GaussianBlur(picture, (0, 0), sigmaX=sigma, sigmaY=sigma)
    limit = GRAIN_LIMIT * around[~inside].std(axis=0)
    texture = np.clip(texture, -limit, limit)
    filled = np.clip(np.round(smooth.astype(np.float32) + texture), 0, 255).astype(np.uint8)
    out = image.copy()
    out[y0:y1, x0:x1] = np.where(inside[..., None], filled, picture)
    return out


def _telea_at_scale(picture: np.ndarray, hole: np.ndarray, radius: int, scale: float) -> np.ndarray:
    if scale >= 1.0:
        return cv2.inpaint(picture, hole.astype(np.uint8) * 255, radius, cv2.INPAINT_TELEA)
    height, width = hole.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
    if small_hole.all():
        small_hole[0, 0] = False
    painted = cv2.inpaint(small, small_hole.astype(np.uint8) * 255, max(1, round(radius * scale)),
                          cv2.INPAINT_TELEA)
    return cv2.resize(painted, (width, height), interpolation=cv2.INTER_CUBIC)


def texture_beside(
    image: np.ndarray, hole: np.ndarray, box: tuple[int, int, int, int], sigma: float
) -> np.ndarray:
    """Fine texture (the picture minus its blur at ``sigma``) for the hole's box: copied from the
    widest strip beside the box (left, right, above or below, a few sigma away), mirrored to
    length if the strip is narrower than the box, and faded in over ``sigma`` pixels from the
    hole's edge."""
    x0, y0, x1, y1 = box
    height, width = image.shape[:2]
    gap = math.ceil(3 * sigma)
    box_w, box_h = x1 - x0, y1 - y0
    strips = [  # (area, along x?, strip box)
        (box_h * min(box_w, x0 - gap), True, (max(0, x0 - gap - box_w), y0, x0 - gap, y1)),
        (box_h * min(box_w, width - x1 - gap), True, (x1 + gap, y0, min(width, x1 + gap + box_w), y1)),
        (box_w * min(box_h, y0 - gap), False, (x0, max(0, y0 - gap - box_h), x1, y0 - gap)),
        (box_w * min(box_h, height - y1 - gap), False, (x0, y1 + gap, x1, min(height, y1 + gap + box_h))),
    ]
    area, along_x, (sx0, sy0, sx1, sy1) = max(strips, key=lambda strip: strip[0])
    if area <= 0:
        return np.zeros((box_h, box_w, 3), dtype=np.float32)
    # Blur with context around the strip so that its own borders are not mistaken for texture.
    cx0, cy0, cx1, cy1 = grown_box((sx0, sy0, sx1, sy1), gap, image.shape)
    around = image[cy0:cy1, cx0:cx1]
    detail = around.astype(np.float32) - cv2.GaussianBlur(around, (0, 0), sigmaX=sigma, sigmaY=sigma)
    strip = detail[sy0 - cy0 : sy1 - cy0, sx0 - cx0 : sx1 - cx0]
    rows, cols = (0, box_w - strip.shape[1]) if along_x else (box_h - strip.shape[0], 0)
    texture = np.pad(strip, ((0, rows), (0, cols), (0, 0)), mode="symmetric")
    depth = cv2.distanceTransform(hole[y0:y1, x0:x1].astype(np.uint8), cv2.DIST_L2, 5)
    return texture * np.clip(depth / sigma, 0.0, 1.0)[..., None]
