"""DesignEdit: training-free layered latent diffusion editing (arXiv 2403.14487), on diffusers.

The configuration imports instantly; the engine (torch, diffusers) loads on first use, so the
command line stays fast when no diffusion is needed.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from layeredit.engine.designedit.config import DEFAULT_MODEL, DesignEditConfig

if TYPE_CHECKING:
    from layeredit.engine.designedit.engine import DesignEditEngine
    from layeredit.engine.designedit.loading import ModelNotFoundError, load_pipeline

_HEAVY = {"DesignEditEngine": "engine", "ModelNotFoundError": "loading", "load_pipeline": "loading"}

__all__ = ["DEFAULT_MODEL", "DesignEditConfig", "DesignEditEngine", "ModelNotFoundError", "load_pipeline"]


def __getattr__(name: str) -> Any:
    if name in _HEAVY:
        return getattr(import_module(f"{__name__}.{_HEAVY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
