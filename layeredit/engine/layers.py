"""The engine's input: a source image decomposed into named object layers.

A :class:`LayerStack` holds the picture being edited, the masks of every object the plan names
(one list per target, left to right) and the objects that ``insert`` brings from other images.
Engines never look at text: targets arrive here already resolved to masks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from layeredit.plan import EditPlan, Insert, Target
from layeredit.tools.resolve import MaskResolver, TargetNotFoundError


@dataclass
class ForeignObject:
    """An object taken from another image, fitted onto this image's canvas."""

    image: np.ndarray  # H x W x 3 uint8, the other image fitted (aspect kept) to the canvas
    masks: list[np.ndarray]  # its object masks in ``image`` coordinates


@dataclass
class LayerStack:
    image: np.ndarray  # H x W x 3 uint8 RGB
    objects: dict[str, list[np.ndarray]] = field(default_factory=dict)  # Target.key -> masks
    foreign: dict[tuple[str, str], ForeignObject] = field(default_factory=dict)  # (source, key)
    # Features outside the hole that must not be copied into it (artifact suppression, docs/method.md step 7).
    refine_mask: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the canvas."""
        return self.image.shape[1], self.image.shape[0]

    def masks_for(self, target: Target) -> list[np.ndarray]:
        try:
            return self.objects[target.key]
        except KeyError:
            raise TargetNotFoundError(f"no layer for '{target.key}' in this stack") from None

    @classmethod
    def build(
        cls,
        image: np.ndarray,
        plan: EditPlan,
        resolver: MaskResolver,
        load_source: Callable[[str], tuple[np.ndarray, MaskResolver]] | None = None,
    ) -> LayerStack:
        """Resolve every target of ``plan`` to masks.

        ``load_source(path)`` returns the image an ``insert`` takes its object from and the
        resolver for objects in that image.
        """
        stack = cls(image=image)
        for target in plan.targets():
            stack.objects[target.key] = _found(resolver.resolve(image, target), target)
        for op in plan.operations:
            if not isinstance(op, Insert) or (op.source, op.target.key) in stack.foreign:
                continue
            if load_source is None:
                raise TargetNotFoundError(f"the plan inserts from {op.source!r} but no image loader")
            other, other_resolver = load_source(op.source)
            masks = _found(other_resolver.resolve(other, op.target), op.target)
            stack.foreign[(op.source, op.target.key)] = fit_to_canvas(other, masks, stack.size)
        return stack


def _found(masks: list[np.ndarray], target: Target) -> list[np.ndarray]:
    """An edit of an object that selects no pixel would change nothing: that is an error, not a success."""
    if not any(mask.any() for mask in masks):
        raise TargetNotFoundError(f"found no pixels of '{target.key}'; give its mask or box")
    return masks


def fit_to_canvas(image: np.ndarray, masks: list[np.ndarray], size: tuple[int, int]) -> ForeignObject:
    """Scale ``image`` (and masks) to fit inside ``size`` keeping aspect, centred on a black canvas."""
    width, height = size
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    x0, y0 = (width - new_w) // 2, (height - new_h) // 2
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    canvas[y0 : y0 + new_h, x0 : x0 + new_w] = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    fitted = []
    for mask in masks:
        placed = np.zeros((height, width), dtype=bool)
        placed[y0 : y0 + new_h, x0 : x0 + new_w] = (
            cv2.resize(mask.astype(np.uint8) * 255, (new_w, new_h), interpolation=cv2.INTER_LINEAR) > 127
        )
        fitted.append(placed)
    return ForeignObject(image=canvas, masks=fitted)
