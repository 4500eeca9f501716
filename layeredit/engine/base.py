"""What every engine takes and returns."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from layeredit.engine.layers import LayerStack
from layeredit.engine.scene import Scene, SceneParams, compile_scene
from layeredit.plan import EditPlan

# Called as progress(stage, done, total) during long work, e.g. ("denoise", 12, 50).
ProgressCallback = Callable[[str, int, int], None]


@dataclass
class RenderedLayer:
    name: str
    rgba: np.ndarray  # H x W x 4 uint8, the layer as pasted on the canvas


@dataclass
class EditResult:
    image: np.ndarray  # H x W x 3 uint8 RGB (x 4 RGBA for an input with transparency), same size
    plan: EditPlan
    scene: Scene
    layers: list[RenderedLayer]  # background first, then objects bottom to top
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    stats: dict[str, int | float | str] = field(default_factory=dict)


class Engine(Protocol):
    name: str

    def run(self, stack: LayerStack, plan: EditPlan, progress: ProgressCallback | None = None) -> EditResult:
        """Carry out ``plan`` on ``stack`` and return the edited image with its layers."""
        ...


class SceneRenderer:
    """An engine that compiles the plan into a :class:`Scene` and renders it (both of layeredit's
    engines are); resolution strategies hand such an engine a window or a scaled copy of the scene."""

    params: SceneParams

    def run(self, stack: LayerStack, plan: EditPlan, progress: ProgressCallback | None = None) -> EditResult:
        start = time.perf_counter()
        scene = compile_scene(stack, plan, self.params)
        layers_time = time.perf_counter() - start
        result = self.run_scene(scene, plan, progress)
        result.timings = {"layers": layers_time, **result.timings}
        return result

    def run_scene(
        self, scene: Scene, plan: EditPlan, progress: ProgressCallback | None = None, full_size: bool = False
    ) -> EditResult:
        raise NotImplementedError
