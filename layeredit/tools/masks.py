"""Binary mask utilities shared by the tools and the engines.

Masks are ``numpy`` boolean arrays of shape ``(H, W)``. Sizes given in pixels "at 1024" are
scaled to the image so that an edit behaves the same at any resolution.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from layeredit.errors import LayereditError
from layeredit.imageio import has_transparency, open_image, to_8bit

MASK_THRESHOLD = 127


class MaskError(LayereditError, ValueError):
    """A mask file or array that cannot be used; the message says why and what to do."""


def load_mask(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read a mask image (see :func:`mask_from_image`), upright by its EXIF orientation.

    ``size`` is the (width, height) the mask must have, usually the edited image's.
    """
    try:
        mask = mask_from_image(open_image(path, "mask file"))
    except MaskError:
        raise
    except LayereditError as exc:
        raise MaskError(str(exc)) from None
    if size is not None:
        check_mask_size(mask, size, f"mask {path}")
    return mask


def check_mask_size(mask: np.ndarray, size: tuple[int, int], what: str) -> None:
    if (mask.shape[1], mask.shape[0]) != tuple(size):
        raise MaskError(
            f"{what} is {mask.shape[1]}x{mask.shape[0]} but the image is "
            f"{size[0]}x{size[1]}; masks must have the same size as the image"
        )


def mask_from_image(image: Image.Image) -> np.ndarray:
    """The object pixels of a mask image.

    With transparency the alpha channel is the mask (opaque = object), so a cut-out PNG works as
    its own mask; otherwise white (above 127) is the object. See :func:`binarize` for 0/1 masks.
    """
    if has_transparency(image):
        return np.asarray(image.convert("RGBA").getchannel("A")) > MASK_THRESHOLD
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return binarize(to_8bit(np.asarray(image), 65535 if image.mode.startswith("I;16") else None))
    return binarize(np.asarray(image.convert("L")))


def binarize(values: np.ndarray) -> np.ndarray:
    """A bool mask from mask values: above 127 is the object.

    A mask whose values are only 0 and 1 (as written by many segmentation tools) is read as a
    binary mask, 1 = object, rather than as an almost black, empty one.
    """
    if values.dtype == bool:
        return values.copy()
    if np.issubdtype(values.dtype, np.floating):
        values = np.nan_to_num(values, nan=0.0)
        if values.size and values.max() <= 1:
            return values > 0.5  # a soft mask in [0, 1]
    if values.size and values.max() <= 1 and values.min() >= 0:
        return values > 0
    return values > MASK_THRESHOLD


def scaled_px(px_at_1024: float, shape: tuple[int, ...]) -> int:
    """A pixel size given for a 1024x1024 image, scaled to an image of ``shape`` (H, W, ...);
    a positive size stays at least 1 px, zero stays zero."""
    if px_at_1024 <= 0:
        return 0
    return max(1, round(px_at_1024 * (shape[0] * shape[1]) ** 0.5 / 1024))


def dilate(mask: np.ndarray, px: int) -> np.ndarray:
    """Grow a mask by ``px`` pixels: every pixel within Euclidean distance ``px`` of it.

    The cost is linear in the area around the mask, whatever ``px`` (a structuring element's
    cost grows with its size: 10 s for a 68 px growth on a 12-megapixel mask).
    """
    if px <= 0 or not mask.any():
        return mask.copy()
    x0, y0, x1, y1 = grown_box(bbox_of(mask), px, mask.shape)
    outside = (~mask[y0:y1, x0:x1]).astype(np.uint8)
    grown = np.zeros_like(mask, dtype=bool)
    grown[y0:y1, x0:x1] = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= px
    return grown


def bbox_of(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of a mask, x1/y1 exclusive; (0, 0, 0, 0) when it is empty."""
    x, y, w, h = cv2.boundingRect(mask.astype(np.uint8))
    return x, y, x + w, y + h


def grown_box(box: tuple[int, int, int, int], px: int, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """``box`` grown by ``px`` on every side, clipped to an array of ``shape`` (H, W, ...)."""
    x0, y0, x1, y1 = box
    return max(0, x0 - px), max(0, y0 - px), min(shape[1], x1 + px), min(shape[0], y1 + px)


def centroid(mask: np.ndarray) -> tuple[float, float]:
    """(x, y) centre of mass of a non-empty mask."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        raise MaskError("an empty mask has no centre")
    return float(xs.mean()), float(ys.mean())


def bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of a non-empty mask, x1/y1 exclusive."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        raise MaskError("an empty mask has no bounding box")
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def components(mask: np.ndarray, min_area: int = 1) -> list[np.ndarray]:
    """Connected components of a mask (8-connected), left to right, each at least ``min_area``."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    found = [
        (stats[i, cv2.CC_STAT_LEFT], labels == i)
        for i in range(1, count)
        if stats[i, cv2.CC_STAT_AREA] >= min_area
    ]
    return [part for _, part in sorted(found, key=lambda item: item[0])]


def feather(mask: np.ndarray, px: int) -> np.ndarray:
    """Soft alpha in [0, 1] from a binary mask: 1 inside, falling to 0 over ``px`` pixels outside."""
    alpha = mask.astype(np.float32)
    if px <= 0 or not mask.any():
        return alpha
    # Only the mask's neighbourhood can change, so only it is blurred (linear in its area).
    x0, y0, x1, y1 = grown_box(bbox_of(mask), feather_reach(px) + 1, mask.shape)
    # Blur a mask grown by half the feather so the ramp sits across the edge, not inside it.
    grown = dilate(mask[y0:y1, x0:x1], px // 2).astype(np.float32)
    blurred = cv2.GaussianBlur(grown, (0, 0), sigmaX=_feather_sigma(px), sigmaY=_feather_sigma(px))
    alpha[y0:y1, x0:x1] = np.maximum(alpha[y0:y1, x0:x1], blurred)
    return alpha


def feather_reach(px: int) -> int:
    """How far outside the mask :func:`feather` can give nonzero alpha."""
    if px <= 0:
        return 0
    # OpenCV's kernel for a float image is a (2r+1) x (2r+1) square with r = round(8 sigma + 1) // 2;
    # a square reaches r * sqrt(2) along its diagonal. One more pixel covers the rounding of
    # growing by two elliptical kernels one after the other.
    radius = (round(8 * _feather_sigma(px) + 1) | 1) // 2
    return px // 2 + math.ceil(radius * math.sqrt(2)) + 1


def _feather_sigma(px: int) -> float:
    return max(px / 3.0, 0.5)


def shift(array: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Translate an array by whole pixels; what leaves the frame is cropped, new area is zero."""
    out = np.zeros_like(array)
    h, w = array.shape[:2]
    if abs(dx) >= w or abs(dy) >= h:
        return out
    src_y, dst_y = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
    src_x, dst_x = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
    out[dst_y, dst_x] = array[src_y, src_x]
    return out


# Growth per role in pixels at 1024 (docs/method.md, "Layers"): an object layer's mask, the hole a removed or
# moved object leaves, and the new border of a pan or zoom-out.
ROLE_DILATION_AT_1024: dict[str, float] = {"object": 10.0, "hole": 20.0, "border": 30.0}

# Segmenter output clean-up, as fractions of the image area: a 1024x1024 image fills holes up to
# ~1000 px (about 32x32) and drops specks under ~500 px (about 22x22).
MAX_HOLE_FRACTION = 0.001
MIN_SPECK_FRACTION = 0.0005


def dilate_for_role(mask: np.ndarray, role: str) -> np.ndarray:
    """Grow a mask by the size :data:`ROLE_DILATION_AT_1024` gives ``role`` ("object", "hole" or
    "border"), scaled to the mask's size."""
    if role not in ROLE_DILATION_AT_1024:
        raise ValueError(f"unknown mask role {role!r}; choose one of {', '.join(ROLE_DILATION_AT_1024)}")
    return dilate(mask, scaled_px(ROLE_DILATION_AT_1024[role], mask.shape))


def fill_holes(mask: np.ndarray, max_area: int) -> np.ndarray:
    """Fill enclosed background regions of at most ``max_area`` pixels."""
    # Background is 4-connected where the 8-connected foreground encloses it.
    count, labels, stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8), connectivity=4)
    h, w = mask.shape
    filled = mask.copy()
    for i in range(1, count):
        x, y, bw, bh, area = stats[i]
        touches_border = x == 0 or y == 0 or x + bw == w or y + bh == h
        if not touches_border and area <= max_area:
            filled[labels == i] = True
    return filled


def drop_specks(mask: np.ndarray, min_area: int) -> np.ndarray:
    """Remove 8-connected parts smaller than ``min_area``; the largest part always stays."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 2:
        return mask.copy()
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= min(min_area, areas.max())) + 1
    return np.isin(labels, keep)


def clean_mask(
    mask: np.ndarray,
    max_hole_fraction: float = MAX_HOLE_FRACTION,
    min_speck_fraction: float = MIN_SPECK_FRACTION,
) -> np.ndarray:
    """A segmenter mask without pinholes and stray specks; sizes are fractions of the image area."""
    area = mask.shape[0] * mask.shape[1]
    without_specks = drop_specks(mask, round(min_speck_fraction * area))
    return fill_holes(without_specks, round(max_hole_fraction * area))
