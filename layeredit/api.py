"""The Python API: ``edit(image, "move the cat left", masks={"cat": "cat.png"})``."""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from layeredit.engine.alpha import edited_alpha
from layeredit.engine.base import EditResult, Engine, ProgressCallback
from layeredit.engine.layers import LayerStack
from layeredit.engine.pixel import PixelEngine
from layeredit.engine.resolution import DEFAULT_HD_STRATEGY, HighResolution, ResolutionParams, Strategy
from layeredit.errors import InputError, clip
from layeredit.imageio import as_rgb_array, load_image
from layeredit.plan import EditPlan, Insert
from layeredit.tools.auto import AutomaticResolver
from layeredit.tools.masks import MaskError, binarize, load_mask, mask_from_image
from layeredit.tools.resolve import MaskResolver, NamedMasks, box_mask, head_noun, parse_box

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


def mask_array(mask: MaskLike) -> np.ndarray:
    """A boolean mask from a path, a PIL image or an array (white, 1 or True = object).

    Images with transparency use their alpha channel as the mask; see :func:`load_mask`.
    """
    if isinstance(mask, (str, Path)):
        return load_mask(mask)
    if isinstance(mask, Image.Image):
        return mask_from_image(ImageOps.exif_transpose(mask))
    array = np.asarray(mask)
    if array.ndim == 3:
        array = array[..., 3] if array.shape[2] == 4 else array.max(axis=2)
    if array.ndim != 2 or array.dtype.kind not in "biuf":
        raise MaskError(f"expected an H x W mask array of numbers, got shape {array.shape} of {array.dtype}")
    return binarize(array)


def named_masks(
    masks: Mapping[str, MaskLike] | None,
    boxes: Mapping[str, Box] | None,
    size: tuple[int, int],
    fallback: MaskResolver | None = None,
) -> NamedMasks:
    """User-given masks and boxes by name; boxes become filled rectangles on a ``size`` canvas.

    Targets without a mask of their own go to ``fallback``.
    """
    loaded = {name: mask_array(mask) for name, mask in (masks or {}).items()}
    for name, box in (boxes or {}).items():
        corners = parse_box(name, box)
        loaded[name] = box_mask(corners, size)
        if not loaded[name].any():
            raise MaskError(
                f"box for {name!r} {tuple(corners)} lies outside the {size[0]}x{size[1]} image; "
                "boxes are x0,y0,x1,y1 in pixels of the image"
            )
    return NamedMasks(loaded, fallback)


def check_names_used(names: NamedMasks, plan: EditPlan) -> None:
    """A mask name that no target of the plan uses is almost always a typo: say so."""
    phrases = [t.phrase for t in plan.targets()]
    phrases += [op.target.phrase for op in plan.operations if isinstance(op, Insert)]
    wanted = {p.lower() for p in phrases} | {head_noun(p) for p in phrases}
    unused = sorted(set(names.masks) - wanted)
    if unused:
        targets = ", ".join(dict.fromkeys(phrases)) or "none"
        raise InputError(
            f"mask name {', '.join(repr(n) for n in unused)} matches no object in the instruction "
            f"(objects named: {targets}); name each mask after the object it marks"
        )


@functools.lru_cache(maxsize=4)
def shared_engine(name: str = "pixel", model: str | None = None, device: str | None = None) -> Engine:
    """One engine per (name, model, device) per process, so weights load once and caches persist."""
    if name == "pixel":
        return PixelEngine()
    if name == "designedit":
        from layeredit.engine.designedit import DEFAULT_MODEL, DesignEditEngine

        return DesignEditEngine.from_pretrained(model or DEFAULT_MODEL, device)
    raise InputError(f"unknown engine {name!r}; choose 'pixel' or 'designedit'")


def resolve_engine(engine: str | Engine) -> Engine:
    """An engine instance from a name (shared per process) or the instance itself."""
    return shared_engine(engine) if isinstance(engine, str) else engine


def edit(
    image: MaskLike,
    instruction: str | EditPlan | Mapping[str, Any],
    masks: Mapping[str, MaskLike] | None = None,
    boxes: Mapping[str, Box] | None = None,
    engine: str | Engine = "pixel",
    refine_mask: MaskLike | None = None,
    resolver: MaskResolver | None = None,
    progress: ProgressCallback | None = None,
    hd_strategy: Strategy | ResolutionParams = DEFAULT_HD_STRATEGY,
    sources: Mapping[str, MaskLike] | None = None,
) -> EditResult:
    """Edit ``image`` as ``instruction`` says.

    ``masks`` maps object names to masks (paths, PIL images or arrays; white = object) and
    ``boxes`` maps names to (x0, y0, x1, y1) boxes; a target uses the mask named like its phrase
    or its head noun ("red car" → "car"). ``engine`` is "pixel", "designedit" (SDXL, loaded
    once per process) or an engine instance. ``sources`` maps the ``source`` of each insert to
    its picture; when given, no file is opened for an insert (a server takes sources as uploads).
    ``refine_mask`` marks features beside a removed
    object that must not be copied into its hole (used by the designedit engine).
    An image with transparency comes back RGBA, its alpha moved with the objects.

    ``hd_strategy`` says how a photo larger than the engine's working size is edited: "crop",
    "resize", "original" or "auto" (layeredit.engine.resolution), or ResolutionParams with the
    crop margin and size trigger too; ``result.stats["hd_strategy"]`` says which one ran.
    Returns the edited image with the plan, the layers and per-stage timings.
    """
    start = time.perf_counter()
    pixels = as_rgb_array(image, keep_alpha=True)
    alpha = pixels[..., 3] if pixels.shape[2] == 4 else None
    pixels = np.ascontiguousarray(pixels[..., :3])
    size = (pixels.shape[1], pixels.shape[0])
    plan = make_plan(instruction, size)
    timings = {"plan": time.perf_counter() - start}

    start = time.perf_counter()
    names = named_masks(masks, boxes, size, resolver or AutomaticResolver())
    check_names_used(names, plan)

    def load_source(path: str) -> tuple[np.ndarray, MaskResolver]:
        if sources is None:
            return load_image(path), names
        if path not in sources:  # given pictures only: no file is opened by the name a plan gives
            raise InputError(f"insert from {clip(path)!r}: no such picture among the sources given")
        return as_rgb_array(sources[path]), names

    stack = LayerStack.build(pixels, plan, names, load_source)
    if refine_mask is not None:
        stack.refine_mask = mask_array(refine_mask)
        if stack.refine_mask.shape != pixels.shape[:2]:
            raise MaskError(
                f"refine mask is {stack.refine_mask.shape[1]}x{stack.refine_mask.shape[0]} but the image "
                f"is {size[0]}x{size[1]}; masks must have the same size as the image"
            )
    timings["masks"] = time.perf_counter() - start

    runner = resolve_engine(engine)
    if not isinstance(hd_strategy, ResolutionParams):
        hd_strategy = ResolutionParams(hd_strategy=hd_strategy)
    result = HighResolution(runner, hd_strategy).run(stack, plan, progress)
    if alpha is not None:  # transparency goes through the edit with the objects
        size = (result.image.shape[1], result.image.shape[0])
        params = getattr(runner, "params", None)
        result.image = np.dstack([result.image, edited_alpha(stack, plan, alpha, size, params)])

    result.timings = {**timings, **result.timings}
    result.timings["total"] = sum(result.timings.values())
    return result
