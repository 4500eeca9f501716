"""Resolution strategies: how an engine edits a photo larger than the size it works at.

Engines work at a fixed area (about 1 megapixel for SDXL; the pixel engine paints holes at a
bounded size), so a 12-megapixel photo is either

* ``crop``: a window around everything the plan touches (a moved object's source and
  destination, with context margin) goes to the engine, which edits it at its working
  resolution, and the result is pasted back;
* ``resize``: a copy downscaled to the working area is edited, the edited region is upscaled
  and blended in, and untouched pixels stay exact;
* ``original``: the engine works at full size.

``auto`` edits photos up to the size trigger at their original size, uses ``resize`` for pans and
zoom-outs (they touch the whole frame), and ``crop`` when the touched window is small enough
for the engine to see it in more detail than the whole photo, ``resize`` otherwise.
:class:`HighResolution` composes a strategy around any engine that renders compiled scenes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, get_args

from layeredit.engine.base import EditResult, Engine, ProgressCallback
from layeredit.engine.layers import LayerStack
from layeredit.engine.scene import Scene, SceneParams, compile_scene
from layeredit.engine.window import (
    Box,
    Seam,
    box_area,
    full_size_layers,
    paste_back,
    touched_box,
    window_scene,
)
from layeredit.errors import InputError
from layeredit.plan import EditPlan, Pan, ZoomOut

Strategy = Literal["auto", "crop", "resize", "original"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)
DEFAULT_HD_STRATEGY: Strategy = "auto"  # the one place this default is written

# auto crops only when the engine sees the window at least this much sharper (per side) than it
# would see the whole photo resized: below that, a crop only loses context.
MIN_DETAIL_GAIN = 1.25


@dataclass(frozen=True)
class ResolutionParams:
    hd_strategy: Strategy = field(
        default=DEFAULT_HD_STRATEGY,
        metadata={
            "help": "How photos larger than the engine's working size are edited: crop (a window "
            "around the edit, at the working size), resize (a downscaled copy; untouched pixels stay "
            "exact), original (full size) or auto."
        },
    )
    hd_crop_margin: float = field(
        default=64.0, metadata={"help": "Context kept around the edited area in a crop, px at 1024."}
    )
    hd_trigger: int | None = field(
        default=None,
        metadata={
            "help": "auto edits photos whose long side is at most this many pixels at their original "
            "size; default: the engine's working side (1024 for SDXL and the pixel engine)."
        },
    )

    def __post_init__(self) -> None:
        if self.hd_strategy not in STRATEGIES:
            known = ", ".join(STRATEGIES)
            raise InputError(f"unknown hd strategy {self.hd_strategy!r}; choose one of {known}")
        if not 0 <= self.hd_crop_margin < math.inf:  # NaN fails this too
            raise InputError(f"hd crop margin must be a finite number >= 0, got {self.hd_crop_margin}")
        if self.hd_trigger is not None and self.hd_trigger < 1:
            raise InputError(f"hd trigger must be a positive number of pixels, got {self.hd_trigger}")


def resolution_given(own: ResolutionParams | None, given: Mapping[str, Any]) -> ResolutionParams:
    """``own`` (an engine's strategy; None: the defaults) with the fields ``given`` by name replaced."""
    return replace(own or ResolutionParams(), **given)


class SceneEngine(Protocol):
    """An engine that renders a compiled scene (both of layeredit's engines do)."""

    name: str
    params: SceneParams

    @property
    def working_side(self) -> int: ...

    def run_scene(
        self, scene: Scene, plan: EditPlan, progress: ProgressCallback | None = None, full_size: bool = False
    ) -> EditResult: ...


@dataclass(frozen=True)
class Choice:
    strategy: Literal["crop", "resize", "original"]
    box: Box  # the part of the photo handed to the engine
    scale: float  # engine input pixels per photo pixel


def touches_whole_frame(plan: EditPlan) -> bool:
    return any(isinstance(op, (Pan, ZoomOut)) for op in plan.operations)


def choose(
    scene: Scene, plan: EditPlan, working_side: int, params: ResolutionParams, whole_result: bool = False
) -> Choice:
    """The strategy, window and scale for editing ``scene`` with an engine working at
    ``working_side`` squared pixels; ``whole_result``: the engine changes every pixel (it does not
    keep the input outside the edit), so no window of the photo is enough."""
    height, width = scene.source.shape[:2]
    whole = (0, 0, width, height)
    resize_scale = min(1.0, working_side / math.sqrt(width * height))
    whole_frame = whole_result or touches_whole_frame(plan)
    window = None if whole_frame else touched_box(scene, scene.px(params.hd_crop_margin))
    strategy = params.hd_strategy
    if strategy == "auto":
        if max(width, height) <= (params.hd_trigger or working_side) or (window is None and not whole_frame):
            strategy = "original"
        elif window is not None and min(1.0, working_side / math.sqrt(box_area(window))) >= (
            MIN_DETAIL_GAIN * resize_scale
        ):
            strategy = "crop"
        else:
            strategy = "resize"
    if strategy == "crop" and window is not None:
        return Choice("crop", window, 1.0)
    if strategy == "original" or (strategy == "crop" and not whole_frame):  # a crop of nothing
        return Choice("original", whole, 1.0)
    return Choice("resize", whole, resize_scale)


class HighResolution:
    """``engine`` with a resolution strategy around it; it runs plans like an engine does.

    Without ``params`` the strategy is the engine's own ``resolution``, else ``auto``.
    """

    def __init__(self, engine: Engine, params: ResolutionParams | None = None):
        self.engine = engine
        self.params = params or getattr(engine, "resolution", None) or ResolutionParams()

    @property
    def name(self) -> str:
        return self.engine.name

    def run(self, stack: LayerStack, plan: EditPlan, progress: ProgressCallback | None = None) -> EditResult:
        engine = self.engine
        if not hasattr(engine, "run_scene"):  # an engine of its own making sees the full photo
            return engine.run(stack, plan, progress)
        start = time.perf_counter()
        scene = compile_scene(stack, plan, engine.params)
        layers_time = time.perf_counter() - start
        # An engine told not to keep the input's pixels outside the edit (--no-preserve) changes
        # the whole photo: no crop, and a resized result is pasted whole.
        preserves = getattr(getattr(engine, "config", None), "preserve_unedited", True)
        choice = choose(scene, plan, engine.working_side, self.params, whole_result=not preserves)
        if choice.strategy == "original":
            result = engine.run_scene(scene, plan, progress, full_size=True)
            size = scene.source.shape[1::-1]
        else:
            start = time.perf_counter()
            part = window_scene(scene, choice.box, choice.scale)
            layers_time += time.perf_counter() - start
            size = part.source.shape[1::-1]
            result = self._paste(scene, choice, engine.run_scene(part, plan, progress), preserves)
        result.timings = {"layers": layers_time, **result.timings}
        result.stats.update(
            hd_strategy=choice.strategy,
            hd_window=",".join(str(v) for v in choice.box),
            hd_size=f"{size[0]}x{size[1]}",
        )
        return result

    @staticmethod
    def _paste(scene: Scene, choice: Choice, part: EditResult, preserves: bool = True) -> EditResult:
        """The window's result on the full photo; a resized result only inside the edited region
        when the engine ``preserves`` the pixels outside it, else whole."""
        start = time.perf_counter()
        # A crop is edited at full size, and engines keep every pixel outside the edited region.
        region = None if choice.strategy == "crop" or not preserves else scene.edited_region()
        seam = None if region is None else Seam.of(region, scene.px(scene.params.feather))
        image = paste_back(scene.background, part.image, choice.box, seam)
        layers = full_size_layers(part.layers, choice.box, scene.background, seam, (part.image, image))
        timings = {**part.timings, "paste": time.perf_counter() - start}
        return EditResult(image=image, plan=part.plan, scene=scene, layers=layers, timings=timings,
                          stats=part.stats)
