"""The engine a command's flags ask for."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from layeredit.cli_options import build_params
from layeredit.engine.base import EditResult, Engine, ProgressCallback
from layeredit.engine.designedit.config import DEFAULT_MODEL, DesignEditConfig
from layeredit.engine.layers import LayerStack
from layeredit.engine.pixel import PixelEngine
from layeredit.engine.scene import Scene, SceneParams
from layeredit.plan import EditPlan

if TYPE_CHECKING:
    from layeredit.engine.designedit import DesignEditEngine


def build_engine(
    name: str, model: str | None, device: str | None, refine_mask: Path | None, tuning: dict[str, Any]
) -> Engine:
    """The engine the options ask for; diffusion-only options with the pixel engine are a mistake."""
    params = build_params(SceneParams, tuning)
    if name == "pixel":
        diffusion_only = [
            f"--{flag.replace('_', '-')}"
            for flag, value in {"model": model, "refine_mask": refine_mask, **tuning}.items()
            if value is not None and not hasattr(params, flag)
        ]
        if diffusion_only:
            raise click.UsageError(f"{', '.join(diffusion_only)} only apply to --engine designedit")
        return PixelEngine(params)
    config = build_params(DesignEditConfig, tuning)
    return DeferredDesignEdit(model or DEFAULT_MODEL, device, config, params)


class DeferredDesignEdit:
    """Loads the diffusion model on first use, so bad input is reported before minutes of loading."""

    name = "designedit"

    def __init__(self, model: str, device: str | None, config: DesignEditConfig, params: SceneParams):
        self.model, self.device, self.config, self.params = model, device, config, params
        self._engine: DesignEditEngine | None = None

    def loaded(self) -> DesignEditEngine:
        if self._engine is None:
            from layeredit.engine.designedit import DesignEditEngine, load_pipeline

            pipe = load_pipeline(self.model, self.device)
            self._engine = DesignEditEngine(pipe, self.config, model_id=self.model, params=self.params)
        return self._engine

    @property
    def working_side(self) -> int:
        return self.loaded().working_side

    def run(self, stack: LayerStack, plan: EditPlan, progress: ProgressCallback | None = None) -> EditResult:
        return self.loaded().run(stack, plan, progress)

    def run_scene(
        self, scene: Scene, plan: EditPlan, progress: ProgressCallback | None = None, full_size: bool = False
    ) -> EditResult:
        return self.loaded().run_scene(scene, plan, progress, full_size)
