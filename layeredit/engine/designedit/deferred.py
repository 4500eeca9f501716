"""DesignEdit that loads its diffusion model on first use, so bad input is reported before minutes
of loading (the command line and the server build their engine this way)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from layeredit.engine.base import EditResult, ProgressCallback
from layeredit.engine.designedit.config import DesignEditConfig
from layeredit.engine.layers import LayerStack
from layeredit.engine.resolution import ResolutionParams
from layeredit.engine.scene import Scene, SceneParams
from layeredit.plan import EditPlan

if TYPE_CHECKING:
    from layeredit.engine.designedit.engine import DesignEditEngine


class DeferredDesignEdit:
    """A :class:`DesignEditEngine` for ``model`` on ``device``, built on first use."""

    name = "designedit"

    def __init__(
        self,
        model: str,
        device: str | None,
        config: DesignEditConfig,
        params: SceneParams,
        resolution: ResolutionParams | None = None,
    ):
        self.model, self.device, self.config, self.params = model, device, config, params
        self.resolution = resolution
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
