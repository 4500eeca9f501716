"""The engine a command's flags ask for."""

from __future__ import annotations

from pathlib import Path

import click

from layeredit.engine.base import Engine
from layeredit.engine.options import EngineOptions, make_engine


def build_engine(options: EngineOptions, refine_mask: Path | None = None) -> Engine:
    """The engine the options ask for; diffusion-only options with the pixel engine are a mistake."""
    if options.choice.engine == "pixel":
        diffusion_only = options.diffusion_only() + (["refine_mask"] if refine_mask is not None else [])
        if diffusion_only:
            flags = ", ".join(f"--{name.replace('_', '-')}" for name in diffusion_only)
            raise click.UsageError(f"{flags} only apply to --engine designedit")
    return make_engine(options)
