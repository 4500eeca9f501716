"""Flags and argument parsers that several ``layeredit`` commands share."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from layeredit.agent.planner_options import PlannerOptions
from layeredit.api import Box
from layeredit.cli_options import grouped_options
from layeredit.engine.designedit.config import DEFAULT_MODEL
from layeredit.imageio import MAX_SIDE
from layeredit.tools.defaults import (
    DEFAULT_BOX_THRESHOLD,
    DEFAULT_GROUNDING_MODEL,
    DEFAULT_SAM_MODEL,
    DEFAULT_TEXT_THRESHOLD,
)
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


engine_option = click.option(
    "--engine",
    type=click.Choice(["pixel", "designedit"]),
    default="pixel",
    show_default=True,
    help="pixel: OpenCV inpainting, no weights; designedit: layered-latent diffusion.",
)


# --llm, --llm-base-url, --llm-mode; the command receives them as one PlannerOptions ``planner``.
planner_options = grouped_options(PlannerOptions, "planner")


device_option = click.option(
    "--device", help="Torch device for the models, such as cuda, cuda:1 or cpu [default: cuda if available]."
)


model_option = click.option(
    "--model",
    metavar="ID_OR_PATH",
    help=f"designedit: diffusers model, hub id or local folder [default: {DEFAULT_MODEL}].",
)


PERCEPTION_FLAGS = ("grounding_model", "sam_model", "box_threshold", "text_threshold")


def perception_options(command: Callable) -> Callable:
    """Flags for the models that find objects named without a mask.

    The command receives them together as ``finding``, keyword arguments of AutomaticResolver.
    """

    @functools.wraps(command)
    def with_finding(**options: Any) -> Any:
        finding = {flag: options.pop(flag) for flag in PERCEPTION_FLAGS}
        return command(finding=finding, **options)

    unit = click.FloatRange(0.0, 1.0)
    for option in (
        click.option("--text-threshold", type=unit, default=DEFAULT_TEXT_THRESHOLD, show_default=True,
                     help="Least confidence that a detected box is the phrase."),
        click.option("--box-threshold", type=unit, default=DEFAULT_BOX_THRESHOLD, show_default=True,
                     help="Least confidence for a detected box."),
        click.option("--sam-model", metavar="ID_OR_PATH",
                     help=f"Segment Anything: hub id, local folder or .pth [default: {DEFAULT_SAM_MODEL}]."),
        click.option("--grounding-model", metavar="ID_OR_PATH",
                     help=f"Text-grounding detector: hub id or folder [default: {DEFAULT_GROUNDING_MODEL}]."),
    ):  # fmt: skip
        with_finding = option(with_finding)
    return with_finding
