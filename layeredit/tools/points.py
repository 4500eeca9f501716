"""A mask from one click on an object, or from a box dragged around it.

The web editor's marking tools (click, box) call a :class:`PointSegmenter`. A Segment Anything
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

    def segment_box(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The bool mask (H x W) of the object inside the (x0, y0, x1, y1) pixel ``box``."""
        ...


def check_box(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    """``box`` clipped to the image, or an InputError when too little of it is inside."""
    x0, y0, x1, y1 = max(0, box[0]), max(0, box[1]), min(width, box[2]), min(height, box[3])
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise InputError(
            f"box {list(box)} has less than 2x2 pixels inside the {width}x{height} image; "
            "drag a box around the object"
        )
    return x0, y0, x1, y1


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
        small, scale = self._small(image)
        sx, sy = min(int(x * scale), small.shape[1] - 1), min(int(y * scale), small.shape[0] - 1)
        found = self._grabcut(small, self._seeds(small.shape[:2], sx, sy), None)
        clicked = next((part for part in components(found, min_area=1) if part[sy, sx]), found)
        if not clicked.any():
            raise InputError(f"found no object at ({x}, {y}); click inside the object or upload its mask")
        return _full_size(clicked, width, height)

    def segment_box(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        height, width = image.shape[:2]
        x0, y0, x1, y1 = check_box(box, width, height)
        small, scale = self._small(image)
        left, top = int(x0 * scale), int(y0 * scale)
        rect = (left, top, max(1, round(x1 * scale) - left), max(1, round(y1 * scale) - top))
        found = self._grabcut(small, np.zeros(small.shape[:2], np.uint8), rect)
        parts = components(found, min_area=1)
        if not parts:
            raise InputError(f"found no object inside the box {list(box)}; drag the box around the object")
        # The largest piece: specks of the box's background that look like the object stay out.
        return _full_size(max(parts, key=lambda part: int(part.sum())), width, height)

    def _small(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """The image scaled to at most ``work_side`` pixels a side, and the scale."""
        height, width = image.shape[:2]
        scale = min(1.0, self.work_side / max(width, height))
        return cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale)))), scale

    def _grabcut(
        self, small: np.ndarray, seeds: np.ndarray, rect: tuple[int, int, int, int] | None
    ) -> np.ndarray:
        """GrabCut from ``seeds`` (or, with ``rect``, from that rectangle): the sure and probable object."""
        background_model = np.zeros((1, 65), np.float64)
        foreground_model = np.zeros((1, 65), np.float64)
        mode = cv2.GC_INIT_WITH_MASK if rect is None else cv2.GC_INIT_WITH_RECT
        cv2.grabCut(
            cv2.cvtColor(small, cv2.COLOR_RGB2BGR), seeds, rect, background_model, foreground_model,
            self.iterations, mode,
        )  # fmt: skip
        return (seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)

    def _seeds(self, shape: tuple[int, int], x: int, y: int) -> np.ndarray:
        height, width = shape
        seeds = np.full(shape, cv2.GC_BGD, np.uint8)
        half_w, half_h = max(2, int(self.window * width / 2)), max(2, int(self.window * height / 2))
        seeds[max(0, y - half_h) : y + half_h, max(0, x - half_w) : x + half_w] = cv2.GC_PR_FGD
        radius = max(2, min(width, height) // 60)
        cv2.circle(seeds, (x, y), radius, int(cv2.GC_FGD), thickness=-1)
        return seeds


def _full_size(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    return cv2.resize(mask.astype(np.uint8) * 255, (width, height), interpolation=cv2.INTER_LINEAR) > 127


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

    def segment_box(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        height, width = image.shape[:2]
        x0, y0, x1, y1 = check_box(box, width, height)
        self.segmenter.set_image(image)
        mask = self.segmenter.predict([(float(x0), float(y0), float(x1), float(y1))])[0]
        if not mask.any():
            raise InputError(f"found no object inside the box {list(box)}; drag the box around the object")
        return mask
