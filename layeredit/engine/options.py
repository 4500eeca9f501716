"""The engine options, declared once: which engine, its model and device, and every tunable.

Every interface gathers the same flat names (command-line flags, a batch manifest's ``options``)
into one :class:`EngineOptions` and builds the engine with :func:`make_engine`; no other module
declares ``--model`` or an engine default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from layeredit.engine.base import Engine
from layeredit.engine.designedit.config import DEFAULT_MODEL, DesignEditConfig
from layeredit.engine.designedit.deferred import DeferredDesignEdit
from layeredit.engine.pixel import PixelEngine
from layeredit.engine.resolution import ResolutionParams
from layeredit.engine.scene import SceneParams
from layeredit.errors import InputError
from layeredit.params import build_params, field_names

EngineName = Literal["pixel", "designedit"]


@dataclass(frozen=True)
class EngineChoice:
    """Which engine renders the edit, and where its model comes from."""

    engine: EngineName = field(
        default="pixel",
        metadata={"help": "pixel: OpenCV inpainting, no weights; designedit: layered-latent diffusion."},
    )
    model: str | None = field(
        default=None,
        metadata={
            "metavar": "ID_OR_PATH",
            "help": f"designedit: diffusers model, hub id or local folder [default: {DEFAULT_MODEL}].",
        },
    )
    device: str | None = field(
        default=None,
        metadata={
            "help": "Torch device for the models, such as cuda, cuda:1 or cpu [default: cuda if available]."
        },
    )


# Every engine option is a field of one of these; the field names are the flags and manifest keys.
OPTION_CLASSES: tuple[type, ...] = (EngineChoice, SceneParams, DesignEditConfig, ResolutionParams)
# What the pixel engine reads; every other option only changes the designedit engine.
PIXEL_OPTIONS = frozenset(field_names(SceneParams, ResolutionParams)) | {"engine", "device"}


@dataclass(frozen=True)
class EngineOptions:
    """Everything that says how an edit is rendered, built from the options someone gave."""

    choice: EngineChoice = field(default_factory=EngineChoice)
    scene: SceneParams = field(default_factory=SceneParams)
    designedit: DesignEditConfig = field(default_factory=DesignEditConfig)
    resolution: ResolutionParams = field(default_factory=ResolutionParams)
    given: Mapping[str, Any] = field(default_factory=dict)  # the options set explicitly, by name

    @classmethod
    def build(cls, options: Mapping[str, Any]) -> EngineOptions:
        """From flat ``{name: value}`` options (a None value: not given); an unknown name is a mistake."""
        given = {name: value for name, value in options.items() if value is not None}
        known = field_names(*OPTION_CLASSES)
        unknown = sorted(set(given) - set(known))
        if unknown:
            names = ", ".join(map(repr, unknown))
            raise InputError(f"unknown engine option {names}; options are {', '.join(sorted(known))}")
        return cls(
            choice=build_params(EngineChoice, given),
            scene=build_params(SceneParams, given),
            designedit=build_params(DesignEditConfig, given),
            resolution=build_params(ResolutionParams, given),
            given=given,
        )

    def tuning(self) -> dict[str, Any]:
        """The options given other than the engine choice (a batch line may override these)."""
        choice = field_names(EngineChoice)
        return {name: value for name, value in self.given.items() if name not in choice}

    def diffusion_only(self) -> list[str]:
        """The options given that only the designedit engine reads."""
        return [name for name in self.given if name not in PIXEL_OPTIONS]


def make_engine(options: EngineOptions) -> Engine:
    """The engine the options ask for (the diffusion model loads on first use), run with their
    resolution strategy unless a caller says otherwise."""
    if options.choice.engine == "pixel":
        engine = PixelEngine(options.scene)
        engine.resolution = options.resolution
        return engine
    model = options.choice.model or DEFAULT_MODEL
    choice = options.choice
    return DeferredDesignEdit(model, choice.device, options.designedit, options.scene, options.resolution)
