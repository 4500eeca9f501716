"""Hole filling whose cost stays close to linear in the pixel count.

OpenCV's Telea inpainting costs about (hole pixels) x (radius squared), so a 12-megapixel photo
with a proportionally larger hole and radius is ~50 s where 1 megapixel is 0.5 s. Here the hole's
neighbourhood is filled at a bounded working size, brought back to full size, and the fine texture
an upscaled (or Telea-smoothed) fill lacks is restored at full resolution by mirroring the
surrounding texture across the hole's edge, so the seam continues the grain around it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from layeredit.tools.masks import bbox_of, grown_box

# Finest detail the fill keeps from the surroundings, in full-size pixels at working scale 1.
DETAIL_SIGMA = 2.0


def fill_hole(image: np.ndarray, hole: np.ndarray, radius: int, working_side: int) -> np.ndarray:
    """Fill ``hole`` from its surroundings; pixels outside the hole are untouched.

    Telea inpainting runs on the hole's neighbourhood shrunk to at most ``working_side`` squared
    pixels (``radius`` is in full-size pixels); full-resolution texture is mirrored in from the
    hole's edge.
    """
    if not hole.any():
        return image.copy()
    if hole.all():
        raise ValueError("the whole image would have to be painted; nothing is left to paint from")
    x0, y0, x1, y1 = bbox_of(hole)
    # Enough context for Telea's radius and for mirroring texture from the far side of the edge.
    context = 2 * radius + math.ceil(max(x1 - x0, y1 - y0) / 2)
    x0, y0, x1, y1 = grown_box((x0, y0, x1, y1), context, hole.shape)
    picture, inside = image[y0:y1, x0:x1], hole[y0:y1, x0:x1]
    scale = min(1.0, working_side / math.sqrt(picture.shape[0] * picture.shape[1]))
    smooth = _telea_at_scale(picture, inside, radius, scale)
    detail = mirrored_detail(picture, inside, DETAIL_SIGMA / scale)
    filled = np.clip(np.round(smooth.astype(np.float32) + detail), 0, 255).astype(np.uint8)
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


def mirrored_detail(picture: np.ndarray, hole: np.ndarray, sigma: float) -> np.ndarray:
    """H x W x 3 float detail (the picture minus its blur at ``sigma``) for the hole's pixels,
    each taken from its mirror image across the nearest edge pixel; zero where that falls in the
    hole or off the picture."""
    blurred = cv2.GaussianBlur(picture, (0, 0), sigmaX=sigma, sigmaY=sigma)
    detail = picture.astype(np.float32) - blurred.astype(np.float32)
    _, labels = cv2.distanceTransformWithLabels(
        hole.astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    # Every pixel outside the hole has its own label; map labels back to where those pixels are.
    edge_ys, edge_xs = np.nonzero(~hole)
    where_x = np.zeros(labels.max() + 1, dtype=np.int64)
    where_y = np.zeros_like(where_x)
    where_x[labels[edge_ys, edge_xs]], where_y[labels[edge_ys, edge_xs]] = edge_xs, edge_ys
    ys, xs = np.nonzero(hole)
    nearest = labels[ys, xs]
    mirror_x, mirror_y = 2 * where_x[nearest] - xs, 2 * where_y[nearest] - ys
    height, width = hole.shape
    valid = (mirror_x >= 0) & (mirror_x < width) & (mirror_y >= 0) & (mirror_y < height)
    valid[valid] = ~hole[mirror_y[valid], mirror_x[valid]]
    out = np.zeros_like(detail)
    out[ys[valid], xs[valid]] = detail[mirror_y[valid], mirror_x[valid]]
    return out
