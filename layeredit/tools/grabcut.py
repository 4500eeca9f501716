"""GrabCut (OpenCV) behind the box/point prompt API: no weights, rough masks.

The fallback segmenter when neither Segment Anything nor IS-Net is on the machine. It models the
object and its surroundings as colour mixtures, so it works on objects that stand out in colour
and fails on busy or similar-coloured backgrounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from layeredit.errors import InputError

if TYPE_CHECKING:
    from layeredit.tools.grounding import Box

WORK_SIDE = 384  # GrabCut is slow on large pictures: it runs on a copy this size at most
ITERATIONS = 5


def grabcut_box(image: np.ndarray, box: Box, work_side: int = WORK_SIDE) -> np.ndarray:
    """The bool H x W mask GrabCut finds inside ``box`` (x0, y0, x1, y1), everything outside it background."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (x1 > x0 and y1 > y0):
        raise InputError(f"box {tuple(box)} is empty: it needs x0 < x1 and y0 < y1")
    scale = min(1.0, work_side / max(width, height))
    small = cv2.resize(image[:, :, :3], (max(1, round(width * scale)), max(1, round(height * scale))))
    sh, sw = small.shape[:2]
    left, top = min(sw - 1, max(0, int(x0 * scale))), min(sh - 1, max(0, int(y0 * scale)))
    right, bottom = min(sw, max(left + 1, round(x1 * scale))), min(sh, max(top + 1, round(y1 * scale)))
    seeds = np.zeros((sh, sw), np.uint8)
    if right - left < 2 or bottom - top < 2 or (right - left) * (bottom - top) >= sw * sh:
        # GrabCut needs background to learn from; a box over the whole picture (or a sliver) gives none.
        found = np.zeros((sh, sw), bool)
        found[top:bottom, left:right] = True
    else:
        models = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        cv2.grabCut(
            cv2.cvtColor(small, cv2.COLOR_RGB2BGR), seeds, (left, top, right - left, bottom - top), *models,
            ITERATIONS, cv2.GC_INIT_WITH_RECT,
        )  # fmt: skip
        found = (seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)
    return cv2.resize(found.astype(np.uint8) * 255, (width, height), interpolation=cv2.INTER_LINEAR) > 127


class GrabCutSegmenter:
    """:class:`~layeredit.tools.segmentation.Segmenter` on GrabCut: boxes by rectangle seeding,
    points by the web editor's click seeding."""

    name = "grabcut"

    def __init__(self) -> None:
        self._image: np.ndarray | None = None

    def set_image(self, image: np.ndarray) -> None:
        self._image = image

    def predict(self, boxes: Sequence[Box]) -> list[np.ndarray]:
        return [grabcut_box(self._current(), box) for box in boxes]

    def predict_point(self, x: float, y: float) -> np.ndarray:
        from layeredit.tools.points import GrabCutPointSegmenter

        return GrabCutPointSegmenter().segment_point(self._current(), int(x), int(y))

    def _current(self) -> np.ndarray:
        if self._image is None:
            raise RuntimeError("call set_image(image) before predicting masks")
        return self._image
