"""Turning plan targets into object masks.

A :class:`MaskResolver` answers "which pixels are ``target`` in this image?". User-given masks
(:class:`NamedMasks`) are one resolver; open-vocabulary grounding plus segmentation is another.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Protocol

import numpy as np

from layeredit.errors import LayereditError, clip
from layeredit.hints import give_object
from layeredit.plan import Target
from layeredit.tools.masks import MaskError, bbox, components
from layeredit.tools.selection import Candidate, select_candidates

MAX_BOX_COORDINATE = 1_000_000  # pixels; larger numbers are typos, not photos


class TargetNotFoundError(LayereditError, LookupError):
    """No mask could be found for a target; the message names it and says how to provide one."""


class MaskResolver(Protocol):
    def resolve(self, image: np.ndarray, target: Target) -> list[np.ndarray]:
        """Masks (bool, H x W of ``image``) of the objects ``target`` means, left to right."""
        ...


def head_noun(phrase: str) -> str:
    return phrase.lower().split()[-1]


class NamedMasks:
    """Masks supplied by name (``masks={"cat": "cat.png"}``, ``--mask cat=cat.png``).

    A target matches a name equal to its phrase, else to its head noun ("red car" → "car").
    A mask with several separate blobs holds several objects: the target's ``select`` picks among
    them ("the ball on the left"); without ``select`` the whole mask is one object. Targets with no
    mask of their own go to ``fallback`` (e.g. automatic detection) when there is one.
    """

    def __init__(self, masks: Mapping[str, np.ndarray], fallback: MaskResolver | None = None):
        self.masks = {name.strip().lower(): mask for name, mask in masks.items()}
        self.fallback = fallback  # finds the targets no mask is named for

    def lookup(self, target: Target) -> np.ndarray | None:
        phrase = target.phrase.strip().lower()
        for name in (phrase, head_noun(phrase)):
            if name in self.masks:
                return self.masks[name]
        return None

    def resolve(self, image: np.ndarray, target: Target) -> list[np.ndarray]:
        mask = self.lookup(target)
        if mask is None and self.fallback is not None:
            return self.fallback.resolve(image, target)
        if mask is None:
            known = ", ".join(sorted(self.masks)) or "none"
            how = give_object(head_noun(target.phrase))
            raise TargetNotFoundError(f"no mask for '{target.phrase}' (masks given: {known}); {how}")
        if mask.shape != image.shape[:2]:
            raise MaskError(
                f"mask for '{target.phrase}' is {mask.shape[1]}x{mask.shape[0]} but the image is "
                f"{image.shape[1]}x{image.shape[0]}; masks must have the same size as the image"
            )
        if not mask.any():
            raise MaskError(
                f"the mask for '{target.phrase}' selects nothing (no white or opaque pixels, or a box "
                f"outside the image); give a mask or box that covers the {head_noun(target.phrase)}"
            )
        if target.select is None:
            return [mask]
        parts = components(mask, min_area=max(16, int(mask.sum() * 0.01)))
        candidates = [Candidate(box=bbox(p), area=float(p.sum())) for p in parts]
        return [parts[i] for i in select_candidates(candidates, target)]


def parse_box(name: str, values: object) -> tuple[int, int, int, int]:
    """A box (x0, y0, x1, y1) in whole pixels from four numbers (or numeric strings) given for ``name``.

    Infinite, absurd or inverted boxes are errors naming the object: a box selecting nothing
    would make an edit that changes nothing.
    """
    try:
        numbers = [float(v) for v in values]  # type: ignore[attr-defined]  # any iterable of numbers
    except (TypeError, ValueError, OverflowError):
        numbers = []
    if len(numbers) != 4 or not all(math.isfinite(v) and abs(v) <= MAX_BOX_COORDINATE for v in numbers):
        raise MaskError(
            f"box for {clip(name)!r} must be four numbers x0, y0, x1, y1 in pixels, got {clip(repr(values))}"
        )
    x0, y0, x1, y1 = (round(v) for v in numbers)
    if x1 <= x0 or y1 <= y0:
        raise MaskError(
            f"box for {clip(name)!r} is empty or inverted ({x0}, {y0}, {x1}, {y1}): need x1 > x0 and y1 > y0"
        )
    return x0, y0, x1, y1


def box_mask(box: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray:
    """A filled rectangle mask; ``size`` is (width, height), ``box`` is (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    mask = np.zeros((size[1], size[0]), dtype=bool)
    mask[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = True
    return mask
