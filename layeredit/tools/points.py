"""A mask from one click on an object.

The web editor's "click to add a mask" calls a :class:`PointSegmenter`. A Segment Anything
backend (point prompt) can be plugged in through ``create_app(point_segmenter=...)``; without
one the server uses :class:`GrabCutPointSegmenter`, OpenCV's GrabCut seeded around the click,
which needs no weights and works well on objects that stand out from their surroundings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

from layeredit.errors import InputError
from layeredit.tools.masks import components

if TYPE_CHECKING:
    from layeredit.tools.segmentation import Segmenter


class PointSegmenter(Protocol):
    name: str

    def segment_point(self, image: np.ndarray, x: int, y: int) -> np.ndarray:
        """The bool mask (H x W) of the object under pixel (x, y) of the RGB ``image``."""
        ...


class GrabCutPointSegmenter:
    """GrabCut seeded with a sure-foreground dot at the click and a probable-foreground window.

    Works on a copy scaled to at most ``work_side`` pixels (GrabCut is slow on large images);
    the piece connected to the click is kept so distant look-alikes do not join the mask.
    """

    name = "grabcut"

    def __init__(self, window: float = 0.6, work_side: int = 384, iterations: int = 5):
        self.window = window  # side of the probable-object window, as a fraction of the image
        self.work_side = work_side
        self.iterations = iterations

    def segment_point(self, image: np.ndarray, x: int, y: int) -> np.ndarray:
        height, width = image.shape[:2]
        if not (0 <= x < width and 0 <= y < height):
            raise InputError(f"point ({x}, {y}) is outside the {width}x{height} image")
        scale = min(1.0, self.work_side / max(width, height))
        small = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))))
        sx, sy = min(int(x * scale), small.shape[1] - 1), min(int(y * scale), small.shape[0] - 1)
        seeds = self._seeds(small.shape[:2], sx, sy)
        background_model = np.zeros((1, 65), np.float64)
        foreground_model = np.zeros((1, 65), np.float64)
        cv2.grabCut(
            cv2.cvtColor(small, cv2.COLOR_RGB2BGR), seeds, None, background_model, foreground_model,
            self.iterations, cv2.GC_INIT_WITH_MASK,
        )  # fmt: skip
        found = (seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)
        clicked = next((part for part in components(found, min_area=1) if part[sy, sx]), found)
        if not clicked.any():
            raise InputError(f"found no object at ({x}, {y}); click inside the object or upload its mask")
        return (
            cv2.resize(clicked.astype(np.uint8) * 255, (width, height), interpolation=cv2.INTER_LINEAR) > 127
        )

    def _seeds(self, shape: tuple[int, int], x: int, y: int) -> np.ndarray:
        height, width = shape
        seeds = np.full(shape, cv2.GC_BGD, np.uint8)
        half_w, half_h = max(2, int(self.window * width / 2)), max(2, int(self.window * height / 2))
        seeds[max(0, y - half_h) : y + half_h, max(0, x - half_w) : x + half_w] = cv2.GC_PR_FGD
        radius = max(2, min(width, height) // 60)
        cv2.circle(seeds, (x, y), radius, int(cv2.GC_FGD), thickness=-1)
        return seeds


class SamPointSegmenter:
    """Segment Anything with a point prompt; the image embedding is reused while the image is the same."""

    name = "sam"

    def __init__(self, segmenter: Segmenter):
        self.segmenter = segmenter

    def segment_point(self, image: np.ndarray, x: int, y: int) -> np.ndarray:
        height, width = image.shape[:2]
        if not (0 <= x < width and 0 <= y < height):
            raise InputError(f"point ({x}, {y}) is outside the {width}x{height} image")
        self.segmenter.set_image(image)
        mask = self.segmenter.predict_point(x, y)
        if not mask.any():
            raise InputError(f"found no object at ({x}, {y}); click inside the object or upload its mask")
        return mask
