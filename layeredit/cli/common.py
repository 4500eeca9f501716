"""Flags and argument parsers that several ``layeredit`` commands share."""

from __future__ import annotations

import click

from layeredit.agent.planner_options import PlannerOptions
from layeredit.api import Box
from layeredit.cli_options import dataclass_options, options_object
from layeredit.engine.options import OPTION_CLASSES, EngineChoice, EngineOptions
from layeredit.imageio import MAX_SIDE
from layeredit.tools.defaults import PerceptionOptions
from layeredit.tools.masks import MaskError
from layeredit.tools.resolve import parse_box


def parse_pairs(values: tuple[str, ...], flag: str, example: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise click.BadParameter(f"expected NAME=VALUE like {example}, got {value!r}", param_hint=flag)
        pairs[name.strip()] = rest.strip()
    return pairs


def parse_masks(values: tuple[str, ...]) -> dict[str, str]:
    """``--mask NAME=PATH`` values as {name: path}."""
    return parse_pairs(values, "--mask", "cat=cat.png")


def parse_boxes(values: tuple[str, ...]) -> dict[str, Box]:
    boxes: dict[str, Box] = {}
    for name, text in parse_pairs(values, "--box", "cat=10,20,200,240").items():
        try:
            boxes[name] = parse_box(name, text.split(","))
        except MaskError as exc:
            raise click.BadParameter(str(exc), param_hint="--box") from None
    return boxes


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise click.BadParameter(
            f"expected WIDTHxHEIGHT like 1024x768, got {text!r}", param_hint="--size"
        ) from None
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise click.BadParameter(f"width and height must be between 1 and {MAX_SIDE}", param_hint="--size")
    return width, height


mask_option = click.option(
    "--mask",
    "masks",
    multiple=True,
    metavar="NAME=PATH",
    help="Mask image for an object (white = object), e.g. --mask cat=cat.png. Repeatable.",
)


box_option = click.option(
    "--box",
    "boxes",
    multiple=True,
    metavar="NAME=x0,y0,x1,y1",
    help="Box around an object, in pixels, used as its mask. Repeatable.",
)


overwrite_option = click.option(
    "--overwrite", is_flag=True, help="Replace existing output files (an input is never replaced)."
)


# Each concern's options are declared once, as a dataclass; these turn them into flags and hand the
# command one object per concern.
engine_options = options_object("engine", OPTION_CLASSES, EngineOptions.build)
perception_options = options_object("perception", PerceptionOptions)
planner_options = options_object("planner", PlannerOptions)
device_option = dataclass_options(EngineChoice, skip=("engine", "model"))
