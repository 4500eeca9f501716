"""The worker side of a batch: models loaded once, then one job after another."""

from __future__ import annotations

import time
from collections import OrderedDict
from pathlib import Path

from layeredit.api import edit
from layeredit.batch.jobs import Job, RunSettings
from layeredit.batch.ledger import LineResult
from layeredit.cli_options import build_params
from layeredit.engine.base import Engine
from layeredit.engine.designedit.config import DEFAULT_MODEL, DesignEditConfig
from layeredit.engine.pixel import PixelEngine
from layeredit.engine.resolution import ResolutionParams
from layeredit.engine.scene import SceneParams
from layeredit.errors import InputError
from layeredit.imageio import save_image
from layeredit.plan import EditPlan
from layeredit.tools.auto import AutomaticResolver

# Engines kept per distinct set of line options; each keeps its own inverted-picture cache.
ENGINES_KEPT = 4


class Editor:
    """Holds the models of one worker; ``load_seconds`` is what loading them cost."""

    def __init__(self, settings: RunSettings, out_dir: str | Path):
        if settings.engine not in ("pixel", "designedit"):
            raise InputError(f"unknown engine {settings.engine!r}; choose 'pixel' or 'designedit'")
        self.settings, self.out_dir = settings, Path(out_dir)
        self.resolver = AutomaticResolver(device=settings.device)  # loads on the first line that needs it
        self.engines: OrderedDict[str, Engine] = OrderedDict()
        start = time.perf_counter()
        self.pipe = None
        if settings.engine == "designedit":
            from layeredit.engine.designedit import load_pipeline

            self.pipe = load_pipeline(settings.model or DEFAULT_MODEL, settings.device)
        self.load_seconds = time.perf_counter() - start

    def engine(self, job: Job) -> Engine:
        key = repr(sorted(job.options.items()))
        if key not in self.engines:
            params = build_params(SceneParams, job.options)
            if self.pipe is None:
                self.engines[key] = PixelEngine(params)
            else:
                from layeredit.engine.designedit import DesignEditEngine

                # Without a cross-line inversion cache a line's pixels do not depend on which lines its
                # worker ran before (a cached inversion is batched differently: last-bit differences).
                defaults = {"cache_size": 0}
                config = build_params(DesignEditConfig, {**defaults, **job.options, "progress_bar": False})
                model = self.settings.model or DEFAULT_MODEL
                self.engines[key] = DesignEditEngine(self.pipe, config, model_id=model, params=params)
            if len(self.engines) > ENGINES_KEPT:
                self.engines.popitem(last=False)
        self.engines.move_to_end(key)
        return self.engines[key]

    def run(self, job: Job) -> LineResult:
        """Edit one line and write its picture atomically; a failure is returned, never raised."""
        start = time.perf_counter()
        plan = EditPlan.parse(job.plan)
        try:
            result = edit(
                job.image, plan, masks=job.masks, boxes=job.boxes, engine=self.engine(job),
                refine_mask=job.refine_mask, resolver=self.resolver,
                hd_strategy=build_params(ResolutionParams, job.options),
            )  # fmt: skip
            target = self.out_dir / job.output
            target.parent.mkdir(parents=True, exist_ok=True)
            save_image(result.image, target)
        except Exception as exc:  # noqa: BLE001 - a failed line is recorded and the run goes on
            return LineResult(
                line=job.line, status="error", error=describe(exc), plan=job.plan,
                seconds=round(time.perf_counter() - start, 4), key=job.key,
            )  # fmt: skip
        return LineResult(
            line=job.line, status="ok", output=job.output, plan=job.plan,
            seconds=round(time.perf_counter() - start, 4),
            timings={stage: round(s, 4) for stage, s in result.timings.items()}, key=job.key,
        )  # fmt: skip


def describe(exc: BaseException) -> str:
    """One line: our own errors speak for themselves; anything else names its type."""
    text = " ".join(str(exc).split())
    if isinstance(exc, (ValueError, LookupError, OSError)):
        return text
    return f"{type(exc).__name__}: {text}"
