"""The Python API: ``edit(image, "move the cat left", masks={"cat": "cat.png"})``."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from layeredit.agent.plans import default_planner, make_plan  # noqa: F401  (make_plan: part of the API)
from layeredit.editing import EditOptions, Planner, run_edit
from layeredit.engine.base import EditResult, Engine, ProgressCallback
from layeredit.engine.pixel import PixelEngine
from layeredit.engine.resolution import ResolutionParams, Strategy, resolution_given
from layeredit.errors import InputError, clip
from layeredit.imageio import as_rgb_array, load_image
from layeredit.plan import EditPlan, Insert
from layeredit.tools.auto import AutomaticResolver
from layeredit.tools.masks import MaskError, binarize, load_mask, mask_from_image
from layeredit.tools.resolve import MaskResolver, NamedMasks, box_mask, head_noun, parse_box

MaskLike = str | Path | Image.Image | np.ndarray
Box = tuple[int, int, int, int]


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
    hd_strategy: Strategy | ResolutionParams | Mapping[str, Any] | None = None,
    sources: Mapping[str, MaskLike] | None = None,
    planner: Planner | None = None,
) -> EditResult:
    """Edit ``image`` as ``instruction`` says.

    ``masks`` maps object names to masks (paths, PIL images or arrays; white = object) and
    ``boxes`` maps names to (x0, y0, x1, y1) boxes; a target uses the mask named like its phrase
    or its head noun ("red car" → "car"). ``engine`` is "pixel", "designedit" (SDXL, loaded
    once per process) or an engine instance. ``sources`` maps the ``source`` of each insert to
    its picture; when given, no file is opened for an insert (a server takes sources as uploads);
    without it an insert's source is a path. ``refine_mask`` marks features beside a removed
    object that must not be copied into its hole (used by the designedit engine).
    An image with transparency comes back RGBA, its alpha moved with the objects.
    ``planner`` reads the words (default: the offline rules; e.g. an ``LLMPlanner``).

    ``hd_strategy`` says how a photo larger than the engine's working size is edited: "crop",
    "resize", "original" or "auto" (layeredit.engine.resolution), or ResolutionParams with the
    crop margin and size trigger too, or a mapping of some of its fields by name (the rest: the
    engine's own); None: the engine's own ``resolution`` (an engine made from
    options carries them, layeredit.engine.options), else auto. ``result.stats["hd_strategy"]``
    says which one ran.
    Returns the edited image with the plan, the layers and per-stage timings.
    Runs :func:`layeredit.editing.run_edit`, as every other interface does.
    """
    pixels = as_rgb_array(image, keep_alpha=True)
    size = (pixels.shape[1], pixels.shape[0])
    names = named_masks(masks, boxes, size, resolver or AutomaticResolver())
    chosen = planner or default_planner()

    def review(picture: np.ndarray, plan: EditPlan) -> EditPlan:
        check_names_used(names, plan)
        return plan

    def load_source(path: str) -> np.ndarray:
        if sources is None:
            return load_image(path)
        if path not in sources:  # given pictures only: no file is opened by the name a plan gives
            raise InputError(f"insert from {clip(path)!r}: no such picture among the sources given")
        return as_rgb_array(sources[path])

    runner = resolve_engine(engine)
    if isinstance(hd_strategy, str):  # the strategy named; the engine's margin and trigger stay
        hd_strategy = {"hd_strategy": hd_strategy}
    if isinstance(hd_strategy, Mapping):
        hd_strategy = resolution_given(getattr(runner, "resolution", None), hd_strategy)
    options = EditOptions(
        resolution=hd_strategy,
        sources=load_source,
        refine_mask=None if refine_mask is None else mask_array(refine_mask),
        progress=progress,
        review=review,
    )
    return run_edit(pixels, instruction, chosen, names, runner, options)
