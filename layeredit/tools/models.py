"""Perception models load once per process and are shared by the engine, the CLI, chat and server.

Loading failures become :class:`~layeredit.errors.ModelLoadError` with a message that names the
model, how to download it and which flag points at a local copy.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from layeredit.errors import ModelLoadError
from layeredit.hub import download_command, quiet_loading
from layeredit.tools.defaults import DEFAULT_GROUNDING_MODEL, DEFAULT_SAM_MODEL

LoadedModel = TypeVar("LoadedModel")

# kind -> (what users call it, the CLI flag that picks it, the default hub id)
MODEL_KINDS: dict[str, tuple[str, str, str]] = {
    "grounding": ("detector (GroundingDINO)", "--grounding-model", DEFAULT_GROUNDING_MODEL),
    "sam": ("segmentation model (Segment Anything)", "--sam-model", DEFAULT_SAM_MODEL),
}

# Errors a loader raises for missing, partial or incompatible weights (hub and file errors are OSError).
LOAD_FAILURES = (OSError, ValueError, KeyError, RuntimeError, ImportError, AttributeError, TypeError)

_cache: dict[tuple[str, str, str, str], Any] = {}
_cache_lock = threading.Lock()


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def looks_like_path(model: str) -> bool:
    """True for local folders and files; hub ids are ``owner/name``."""
    return (
        model.startswith((".", "/", "~"))
        or model.count("/") > 1
        or model.endswith((".pth", ".pt", ".py"))
        or Path(model).expanduser().exists()
    )


def model_load_error(kind: str, model: str, reason: str) -> ModelLoadError:
    what, flag, default = MODEL_KINDS[kind]
    hub_id = default if looks_like_path(model) else model
    return ModelLoadError(
        f"{what} {model!r} is not available ({reason}). Download it with "
        f"`{download_command(hub_id)}` (needs network access), or point at a local copy "
        f"with `{flag} PATH` (a folder saved with save_pretrained, or an official .pth checkpoint)."
    )


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def load_once(
    kind: str, model: str, device: str, load: Callable[[], LoadedModel], variant: str = ""
) -> LoadedModel:
    """``load()`` the first time (kind, model, device, variant) is asked for; the same object afterwards.

    ``variant`` tells apart models built differently from one file (an original checkpoint's
    config or model type). Failures of ``load`` raise :class:`ModelLoadError` and are not
    cached, so a retry after downloading the weights works.
    """
    key = (kind, model, device, variant)
    # One lock for all loads: two threads asking for the same model must not load it twice.
    with _cache_lock:
        if key not in _cache:
            if looks_like_path(model) and not Path(model).expanduser().exists():
                raise model_load_error(kind, model, "no such file or folder")
            try:
                with quiet_loading():
                    _cache[key] = load()
            except ModelLoadError:
                raise
            except LOAD_FAILURES as exc:
                raise model_load_error(kind, model, first_line(exc)) from exc
        return _cache[key]


def clear_model_cache() -> None:
    """Forget loaded models (frees their memory once nothing else holds them)."""
    with _cache_lock:
        _cache.clear()


def require_package(module: str, package: str, model: str) -> None:
    """Raise a clear error when an original checkpoint needs an optional package that is missing."""
    if importlib.util.find_spec(module) is None:
        raise ModelLoadError(
            f"{model!r} is an original checkpoint and needs the `{package}` package: "
            f"pip install 'layeredit[original]' (or pass a hub id or a save_pretrained folder instead)"
        )
