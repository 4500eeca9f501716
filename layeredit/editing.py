"""The one edit: every interface runs its edits through :func:`run_edit`.

    plan (any Planner) → resolve targets (any MaskResolver) → layer stack
        → resolution strategy → engine → alpha → result

The Python API, batch workers, the chat session (terminal and web), the REST routes, the agent
tools and ``compose`` differ only in how they collect these inputs and present the result, so
whatever one of them supports (transparency, resolution strategy, refine mask, a planner that
looks at the picture, relative placement, insert) works in all of them.

This module sits above the engine and perception and below the agent and the interfaces: it
imports neither of the latter. :func:`masks_after_edit` is the one rule that keeps named masks on
their objects from one edit to the next (chat turns, REST answers).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from layeredit.engine.alpha import edited_alpha
from layeredit.engine.base import EditResult, Engine, ProgressCallback
from layeredit.engine.layers import LayerStack
from layeredit.engine.resolution import HighResolution, ResolutionParams
from layeredit.engine.scene import follow_camera
from layeredit.errors import InputError, clip
from layeredit.plan import Antecedent, EditPlan
from layeredit.tools.masks import MaskError
from layeredit.tools.resolve import MaskResolver, head_noun


class Planner(Protocol):
    """Turns words into a plan (the rules, an LLM); raises a ``PlannerError`` when it cannot."""

    def plan(
        self, instruction: str, image_size: tuple[int, int], previous: Antecedent | None = None
    ) -> EditPlan: ...


@runtime_checkable
class RevisingPlanner(Protocol):
    """A planner that looks at the picture and can revise a plan that failed to ground (the LLM)."""

    def plan(
        self,
        instruction: str,
        image_size: tuple[int, int],
        previous: Antecedent | None = None,
        *,
        image: np.ndarray | None = None,
        detections: Sequence[Any] = (),
    ) -> EditPlan: ...

    def revise(
        self,
        instruction: str,
        image_size: tuple[int, int],
        failed_plan: EditPlan,
        problems: Sequence[str],
        detections: Sequence[Any],
        previous: Antecedent | None = None,
        image: np.ndarray | None = None,
    ) -> EditPlan: ...


# The picture an ``insert`` takes its object from, by the source the plan names (H x W x 3 uint8).
SourceLoader = Callable[[str], np.ndarray]
# Checks a plan against the picture before anything is rendered and returns the plan to run (the
# agent grounds every target there, lets the planner revise once, or raises to ask the user).
Review = Callable[[np.ndarray, EditPlan], EditPlan]


@dataclass
class EditOptions:
    """Everything about one edit besides the picture, the words, the planner, resolver and engine."""

    resolution: ResolutionParams | None = None  # None: the engine's own (HighResolution)
    previous: Antecedent | None = None  # what "it" and "a bit more" refer to
    sources: SourceLoader | None = None  # None: a plan with an insert is an error
    refine_mask: np.ndarray | None = None  # H x W bool, features kept out of a removed object's hole
    progress: ProgressCallback | None = None
    review: Review | None = None


def split_alpha(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The RGB pixels (contiguous) and the alpha channel, None for a picture without one."""
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InputError(f"expected an H x W x 3 or x 4 picture, got shape {image.shape}")
    alpha = image[..., 3] if image.shape[2] == 4 else None
    return np.ascontiguousarray(image[..., :3]), alpha


def plan_of(
    instruction: str | EditPlan | Mapping[str, Any],
    image_size: tuple[int, int],
    planner: Planner | None,
    previous: Antecedent | None = None,
    image: np.ndarray | None = None,
) -> EditPlan:
    """The plan as given (a plan, plan JSON or a dict), else ``planner``'s reading of the words.

    A planner that looks at the picture (a :class:`RevisingPlanner`) is shown ``image``.
    """
    if isinstance(instruction, EditPlan):
        return instruction
    if isinstance(instruction, Mapping):
        return EditPlan.parse(dict(instruction))
    if not isinstance(instruction, str):
        raise InputError(
            f"the instruction must be text, a plan or plan JSON, not {type(instruction).__name__}"
        )
    if instruction.lstrip().startswith("{"):
        return EditPlan.parse(instruction)
    if planner is None:  # callers that build their plans (compose) pass none
        raise InputError("this edit takes an edit plan, not words: no planner reads them here")
    if image is not None and isinstance(planner, RevisingPlanner):
        return planner.plan(instruction, image_size, previous, image=image)
    return planner.plan(instruction, image_size, previous)


def run_edit(
    image: np.ndarray,
    instruction: str | EditPlan | Mapping[str, Any],
    planner: Planner | None,
    resolver: MaskResolver,
    engine: Engine,
    options: EditOptions | None = None,
) -> EditResult:
    """Edit ``image`` (H x W x 3, or x 4 with transparency) as ``instruction`` says.

    An RGBA picture comes back RGBA, its alpha edited as the colours were (moved with the objects).
    ``result.timings`` has the plan and masks stages besides the engine's; ``result.stats`` says
    which resolution strategy ran.
    """
    options = options or EditOptions()
    start = time.perf_counter()
    pixels, alpha = split_alpha(image)
    size = (pixels.shape[1], pixels.shape[0])
    refine = None if options.refine_mask is None else _checked_refine_mask(options.refine_mask, size, engine)
    plan = plan_of(instruction, size, planner, options.previous, pixels)
    if options.review is not None:
        plan = options.review(pixels, plan)
    timings = {"plan": time.perf_counter() - start}

    start = time.perf_counter()
    stack = LayerStack.build(pixels, plan, resolver, _source_loader(options.sources, resolver))
    stack.refine_mask = refine
    timings["masks"] = time.perf_counter() - start

    result = HighResolution(engine, options.resolution).run(stack, plan, options.progress)
    if alpha is not None:  # transparency goes through the edit with the objects
        edited_size = (result.image.shape[1], result.image.shape[0])
        params = getattr(engine, "params", None)
        result.image = np.dstack([result.image, edited_alpha(stack, plan, alpha, edited_size, params)])
    result.timings = {**timings, **result.timings}
    result.timings["total"] = sum(result.timings.values())
    return result


def _source_loader(
    sources: SourceLoader | None, resolver: MaskResolver
) -> Callable[[str], tuple[np.ndarray, MaskResolver]]:
    def load(path: str) -> tuple[np.ndarray, MaskResolver]:
        if sources is None:
            raise InputError(f"insert from {clip(path)!r}: this edit was given no pictures to insert from")
        picture, _ = split_alpha(sources(path))
        return picture, resolver

    return load


def _checked_refine_mask(mask: np.ndarray, size: tuple[int, int], engine: Engine) -> np.ndarray:
    if not getattr(engine, "uses_refine_mask", True):  # said, not silently ignored
        raise InputError(
            f"a refine mask only applies to the designedit engine, not {engine.name!r}; leave it out "
            "or use --engine designedit"
        )
    if mask.shape != (size[1], size[0]):
        raise MaskError(
            f"refine mask is {mask.shape[1]}x{mask.shape[0]} but the image is {size[0]}x{size[1]}; "
            "masks must have the same size as the image"
        )
    return mask


def _phrase(layer_name: str) -> str:
    """The target phrase of a layer named by its target key (``boy[leftmost]`` → ``boy``)."""
    return layer_name.split("[", 1)[0].strip().lower()


def masks_after_edit(masks: Mapping[str, np.ndarray], result: EditResult) -> dict[str, np.ndarray]:
    """Each named mask where its object is in ``result.image``; masks of removed objects are dropped.

    After "move the boy left" the boy's mask must follow him, or "now make him bigger" would cut
    the empty spot where he stood. An object the plan touched covers the place its layer was pasted;
    what stays behind moves with the camera (pans, zoom-outs) and loses what the edit painted over
    (the scene's hole, which holds every touched object's old footprint).
    """
    scene = result.scene
    followed: dict[str, np.ndarray] = {}
    for name, mask in masks.items():
        key = name.strip().lower()
        placed = [
            layer.placed_mask()
            for layer in scene.drawn
            if key in (_phrase(layer.name), head_noun(_phrase(layer.name)))
        ]
        stays = follow_camera(mask, result.plan) & ~scene.hole
        now = np.logical_or.reduce([stays, *placed])
        if now.any():
            followed[name] = now
    return followed
