"""The Python API: ``edit(image, "move the cat left", masks={"cat": "cat.png"})``."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from layeredit.engine.base import EditResult, Engine, ProgressCallback
from layeredit.engine.layers import LayerStack
from layeredit.engine.pixel import PixelEngine
from layeredit.imageio import as_rgb_array, load_image
from layeredit.plan import EditPlan, Insert
from layeredit.tools.masks import load_mask
from layeredit.tools.resolve import MaskResolver, NamedMasks, box_mask, head_noun

MaskLike = str | Path | Image.Image | np.ndarray
Box = tuple[int, int, int, int]


def make_plan(instruction: str | EditPlan | Mapping[str, Any], image_size: tuple[int, int]) -> EditPlan:
    """An :class:`EditPlan` from plain English (rule planner), plan JSON, a dict or a plan."""
    if isinstance(instruction, EditPlan):
        return instruction
    if isinstance(instruction, Mapping) or instruction.lstrip().startswith("{"):
        return EditPlan.parse(instruction if isinstance(instruction, str) else dict(instruction))
    from layeredit.agent import RulePlanner  # the planner's grammar tables load on first use

    return RulePlanner().plan(instruction, image_size)


def named_masks(
    masks: Mapping[str, MaskLike] | None, boxes: Mapping[str, Box] | None, size: tuple[int, int]
) -> NamedMasks:
    """User-given masks and boxes by name; boxes become filled rectangles on a ``size`` canvas."""
    loaded: dict[str, np.ndarray] = {}
    for name, mask in (masks or {}).items():
        if isinstance(mask, (str, Path)):
            loaded[name] = load_mask(mask)
        elif isinstance(mask, Image.Image):
            loaded[name] = np.asarray(mask.convert("L")) > 127
        else:
            array = np.asarray(mask)
            loaded[name] = array > 127 if array.dtype == np.uint8 else array.astype(bool)
    for name, box in (boxes or {}).items():
        loaded[name] = box_mask(box, size)
    return NamedMasks(loaded)


def check_names_used(names: NamedMasks, plan: EditPlan) -> None:
    """A mask name that no target of the plan uses is almost always a typo: say so."""
    phrases = [t.phrase for t in plan.targets()]
    phrases += [op.target.phrase for op in plan.operations if isinstance(op, Insert)]
    wanted = {p.lower() for p in phrases} | {head_noun(p) for p in phrases}
    unused = sorted(set(names.masks) - wanted)
    if unused:
        targets = ", ".join(dict.fromkeys(phrases)) or "none"
        raise ValueError(
            f"mask name {', '.join(repr(n) for n in unused)} matches no object in the instruction "
            f"(objects named: {targets}); name each mask after the object it marks"
        )


def resolve_engine(engine: str | Engine) -> Engine:
    if not isinstance(engine, str):
        return engine
    if engine == "pixel":
        return PixelEngine()
    if engine == "designedit":
        from layeredit.engine.designedit import DesignEditEngine

        return DesignEditEngine.from_pretrained()
    raise ValueError(f"unknown engine {engine!r}; choose 'pixel' or 'designedit'")


def edit(
    image: MaskLike,
    instruction: str | EditPlan | Mapping[str, Any],
    masks: Mapping[str, MaskLike] | None = None,
    boxes: Mapping[str, Box] | None = None,
    engine: str | Engine = "pixel",
    progress: ProgressCallback | None = None,
) -> EditResult:
    """Edit ``image`` as ``instruction`` says.

    ``masks`` maps object names to masks (paths, PIL images or arrays; white = object) and
    ``boxes`` maps names to (x0, y0, x1, y1) boxes; a target uses the mask named like its phrase
    or its head noun ("red car" → "car").
    Returns the edited image with the plan, the layers and per-stage timings.
    """
    start = time.perf_counter()
    pixels = as_rgb_array(image)
    size = (pixels.shape[1], pixels.shape[0])
    plan = make_plan(instruction, size)
    timings = {"plan": time.perf_counter() - start}

    start = time.perf_counter()
    names = named_masks(masks, boxes, size)
    check_names_used(names, plan)

    def load_source(path: str) -> tuple[np.ndarray, MaskResolver]:
        return load_image(path), names

    stack = LayerStack.build(pixels, plan, names, load_source)
    timings["masks"] = time.perf_counter() - start

    result = resolve_engine(engine).run(stack, plan, progress)
    result.timings = {**timings, **result.timings}
    result.timings["total"] = sum(result.timings.values())
    return result
