"""The perception options, defined once: the models that find objects by name and their thresholds.

This module loads no model library and imports no other perception module, so every perception
module and every interface can read it without forming an import circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from layeredit.errors import InputError

DEFAULT_GROUNDING_MODEL = "IDEA-Research/grounding-dino-tiny"
DEFAULT_SAM_MODEL = "facebook/sam-vit-base"
DEFAULT_BOX_THRESHOLD = 0.35  # least confidence for a detected box
DEFAULT_TEXT_THRESHOLD = 0.25  # least confidence that a box is the phrase
MODELS_DIR_VARIABLE = "LAYEREDIT_MODELS_DIR"  # overrides ~/.cache/layeredit-models

SegmenterName = Literal["sam", "isnet", "grabcut"]


@dataclass(frozen=True)
class PerceptionOptions:
    """How objects named without a mask are found (keyword arguments of ``AutomaticResolver``)."""

    grounding_model: str | None = field(
        default=None,
        metadata={
            "metavar": "ID_OR_PATH",
            "help": f"Text-grounding detector: hub id or folder [default: {DEFAULT_GROUNDING_MODEL}].",
        },
    )
    sam_model: str | None = field(
        default=None,
        metadata={
            "metavar": "ID_OR_PATH",
            "help": f"Segment Anything: hub id, local folder or .pth [default: {DEFAULT_SAM_MODEL}].",
        },
    )
    segmenter: SegmenterName | None = field(
        default=None,
        metadata={
            "help": "What cuts objects out of boxes and clicks [default: sam if its weights are here, "
            "else isnet if its file is, else grabcut (rough)].",
        },
    )
    isnet_model: str | None = field(
        default=None,
        metadata={
            "metavar": "PATH",
            "help": "IS-Net .onnx file [default: isnet-medium.onnx, else isnet-small.onnx, in "
            f"~/.cache/layeredit-models or ${MODELS_DIR_VARIABLE}].",
        },
    )
    box_threshold: float = field(
        default=DEFAULT_BOX_THRESHOLD, metadata={"help": "Least confidence for a detected box."}
    )
    text_threshold: float = field(
        default=DEFAULT_TEXT_THRESHOLD,
        metadata={"help": "Least confidence that a detected box is the phrase."},
    )

    def __post_init__(self) -> None:
        for name in ("box_threshold", "text_threshold"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InputError(f"{name.replace('_', ' ')} must be between 0 and 1, got {value}")
