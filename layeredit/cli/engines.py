"""The engine a command's flags ask for."""

from __future__ import annotations

import click

from layeredit.engine.base import Engine
from layeredit.engine.options import EngineOptions, make_engine


def build_engine(options: EngineOptions) -> Engine:
    """The engine the options ask for; diffusion-only options with the pixel engine are a mistake
    (a refine mask too, which the one edit function refuses for every interface alike)."""
    if options.choice.engine == "pixel":
        diffusion_only = options.diffusion_only()
        if diffusion_only:
            flags = ", ".join(f"--{name.replace('_', '-')}" for name in diffusion_only)
            raise click.UsageError(f"{flags} only apply to --engine designedit")
    return make_engine(options)
