"""``layeredit segment``: phrases to mask files, plus an overlay showing what was picked."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from layeredit.errors import InputError
from layeredit.imageio import load_image, save_image
from layeredit.plan import Target
from layeredit.tools.grounding import Box, Detection
from layeredit.tools.perception import Located, ObjectLocator, given_object
from layeredit.tools.resolve import MaskResolver, TargetNotFoundError
from layeredit.tools.segmentation import Segmenter
from layeredit.tools.selection import SelectionError

# RGB colours cycled over phrases in the overlay.
PALETTE = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240))
TINT_ALPHA = 0.45


@dataclass
class SegmentResult:
    masks: dict[str, Path] = field(default_factory=dict)  # target key -> mask PNG (white = object)
    found: dict[str, list[Located]] = field(default_factory=dict)  # target key -> objects, left to right
    missing: dict[str, str] = field(default_factory=dict)  # target key -> why nothing was found
    overlay: Path | None = None


def segment_image(
    image_path: str | Path,
    phrases: Sequence[str | Target],
    out_dir: str | Path,
    resolver: MaskResolver,
    marked: Mapping[str, Located] | None = None,
) -> SegmentResult:
    """Write ``<phrase>.png`` (the union of the objects the phrase picks) for each phrase, ``<name>.png``
    for each object ``marked`` by a click or box (:func:`mark_objects`), and ``overlay.png`` (mask
    tint, boxes, labels, scores) into ``out_dir``.

    A phrase that matches nothing gets no file; its reason is in ``missing`` and the others are
    still written. Files are written atomically.
    """
    image = load_image(image_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = SegmentResult()
    for name, found in (marked or {}).items():
        path = unique_path(out, mask_file_stem(name), taken=result.masks.values())
        result.masks[name] = save_image(found.mask.astype(np.uint8) * 255, path)
        result.found[name] = [found]
    for item in phrases:
        target = item if isinstance(item, Target) else Target(phrase=item)
        try:
            objects = locate(resolver, image, target)
        except (TargetNotFoundError, SelectionError) as exc:
            result.missing[target.key] = str(exc)
            continue
        union = np.zeros(image.shape[:2], dtype=bool)
        for found in objects:
            union |= found.mask
        path = unique_path(out, mask_file_stem(target.key), taken=result.masks.values())
        result.masks[target.key] = save_image(union.astype(np.uint8) * 255, path)
        result.found[target.key] = objects
    result.overlay = save_image(draw_overlay(image, result.found), out / "overlay.png")
    return result


def mark_objects(
    image: np.ndarray,
    points: Mapping[str, tuple[float, float]],
    boxes: Mapping[str, Box],
    segmenter: Segmenter,
) -> dict[str, Located]:
    """The object under each named click (x, y) and inside each named box, cut out by ``segmenter``."""
    segmenter.set_image(image)
    marked = {name: given_object(segmenter.predict_point(x, y), name) for name, (x, y) in points.items()}
    for name, box in boxes.items():
        (mask,) = segmenter.predict([box])
        detection = Detection(box=tuple(float(v) for v in box), score=1.0, label=name)
        marked[name] = Located(detection=detection, mask=mask)
    empty = [name for name, found in marked.items() if not found.mask.any()]
    if empty:
        names = ", ".join(empty)
        raise InputError(f"found no object for {names}: mark it inside the object, or give its mask")
    return marked


def locate(resolver: MaskResolver, image: np.ndarray, target: Target) -> list[Located]:
    if isinstance(resolver, ObjectLocator):
        return resolver.locate(image, target)
    return [given_object(mask, target.phrase) for mask in resolver.resolve(image, target)]


def mask_file_stem(key: str) -> str:
    """A file-name-safe form of a target key: "red car[leftmost]" → "red_car_leftmost"."""
    return re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_") or "object"


def unique_path(folder: Path, stem: str, taken: Collection[Path]) -> Path:
    path, number = folder / f"{stem}.png", 2
    while path in taken:
        path, number = folder / f"{stem}_{number}.png", number + 1
    return path


def draw_overlay(image: np.ndarray, found: dict[str, list[Located]]) -> np.ndarray:
    """The picture with each object's mask tinted, its box drawn and "label score" written above it."""
    canvas = image.astype(np.float32)
    for number, objects in enumerate(found.values()):
        colour = np.array(PALETTE[number % len(PALETTE)], dtype=np.float32)
        for obj in objects:
            canvas[obj.mask] = canvas[obj.mask] * (1 - TINT_ALPHA) + colour * TINT_ALPHA
    overlay = np.ascontiguousarray(np.clip(np.round(canvas), 0, 255).astype(np.uint8))
    scale = max(image.shape[:2]) / 1024
    thickness = max(1, round(2 * scale))
    font_scale = max(0.4, 0.7 * scale)
    for number, objects in enumerate(found.values()):
        colour = PALETTE[number % len(PALETTE)]
        for obj in objects:
            x0, y0, x1, y1 = (round(v) for v in obj.detection.box)
            cv2.rectangle(overlay, (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), colour, thickness)
            text = f"{obj.detection.label} {obj.detection.score:.2f}"
            (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
            top = max(0, y0 - th - base - 2)
            cv2.rectangle(overlay, (x0, top), (x0 + tw + 4, top + th + base + 2), colour, cv2.FILLED)
            cv2.putText(
                overlay, text, (x0 + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                (255, 255, 255), thickness, cv2.LINE_AA,
            )
    return overlay
