"""Hole filling whose cost stays close to linear in the pixel count.

OpenCV's Telea inpainting costs about (hole pixels) x (radius squared), so a 12-megapixel photo
with a proportionally larger hole and radius is ~50 s where 1 megapixel is 0.5 s. Here the hole's
neighbourhood is filled at a bounded working size and brought back to full size; the fine texture
an upscaled (and Telea-smoothed) fill lacks is restored at full resolution from the strip beside
the hole, faded in from the hole's edge over a few full-size pixels, so the fill has the grain of
its surroundings instead of being a blurry patch.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from layeredit.errors import InputError
from layeredit.tools.masks import bbox_of, grown_box

# Texture finer than this many working pixels (a Gaussian's sigma) is copied from beside the hole;
# coarser structure comes from the inpainting.
DETAIL_SIGMA = 2.0
# Copied texture is clipped to this many standard deviations of the texture around the hole.
GRAIN_LIMIT = 2.5


def fill_hole(image: np.ndarray, hole: np.ndarray, radius: int, working_side: int) -> np.ndarray:
    """Fill ``hole`` from its surroundings; pixels outside the hole are untouched.

    Telea inpainting runs on the hole's neighbourhood shrunk to at most ``working_side`` squared
    pixels (``radius`` is in full-size pixels); the fine texture is copied at full resolution
    from beside the hole.
    """
    if not hole.any():
        return image.copy()
    if hole.all():
        raise InputError("the whole image would have to be painted; nothing is left to paint from")
    box = bbox_of(hole)
    x0, y0, x1, y1 = grown_box(box, 2 * radius, hole.shape)
    picture, inside = image[y0:y1, x0:x1], hole[y0:y1, x0:x1]
    scale = min(1.0, working_side / math.sqrt(picture.shape[0] * picture.shape[1]))
    sigma = DETAIL_SIGMA / scale
    # The fill keeps only what is coarser than sigma; the finer texture is copied in.
    smooth = _telea_at_scale(picture, inside, radius, scale)
    smooth = cv2.GaussianBlur(smooth, (0, 0), sigmaX=sigma, sigmaY=sigma)
    texture = np.zeros(picture.shape, dtype=np.float32)
    bx0, by0, bx1, by1 = box
    texture[by0 - y0 : by1 - y0, bx0 - x0 : bx1 - x0] = texture_beside(image, hole, box, sigma)
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
    # Any working pixel the hole touches is painted, so nothing of a removed object survives.
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
