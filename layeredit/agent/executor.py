"""The agentic loop: plan, ground every target, let the planner revise once, then edit or ask.

Grounding goes through a :class:`MaskResolver` (user masks today, detection + segmentation when
available) and an optional :class:`ObjectFinder` that reports what is in the picture, so that a
planner which named something absent gets one chance to pick what is really there.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from layeredit.admission.roots import FileScope, scoped
from layeredit.agent.llm import Planner
from layeredit.agent.prompting import DetectionLike
from layeredit.editing import EditOptions, RevisingPlanner, SourceLoader, run_edit
from layeredit.engine.base import EditResult, Engine, ProgressCallback
from layeredit.engine.resolution import ResolutionParams
from layeredit.hints import give_object
from layeredit.imageio import load_image
from layeredit.plan import Antecedent, EditPlan, Target
from layeredit.tools.masks import bbox
from layeredit.tools.resolve import MaskResolver, NamedMasks

# Two detections of one phrase whose scores differ by less than this are a coin toss.
AMBIGUITY_MARGIN = 0.1


@runtime_checkable
class ObjectFinder(Protocol):
    def detect(self, image: np.ndarray, phrase: str) -> Sequence[DetectionLike]:
        """Objects matching ``phrase``, best first."""
        ...

    def known_objects(self, image: np.ndarray) -> Sequence[DetectionLike]:
        """Everything this finder can see in ``image``, for a planner choosing what to name."""
        ...


@dataclass(frozen=True)
class SeenObject:
    label: str
    score: float
    box: tuple[float, float, float, float]


class MaskNamesFinder:
    """With user-given masks the objects "seen" are exactly the named masks."""

    def __init__(self, names: NamedMasks):
        self.names = names

    def detect(self, image: np.ndarray, phrase: str) -> list[SeenObject]:
        mask = self.names.lookup(Target(phrase=phrase))
        return [] if mask is None or not mask.any() else [SeenObject(phrase, 1.0, _float_box(mask))]

    def known_objects(self, image: np.ndarray) -> list[SeenObject]:
        return [
            SeenObject(name, 1.0, _float_box(mask)) for name, mask in self.names.masks.items() if mask.any()
        ]


class MasksThenDetection:
    """Named masks for the phrases they name, a detector (when the models are here) for the rest.

    With a detector, two objects that match a phrase about equally well make the agent ask.
    """

    def __init__(self, names: NamedMasks, detector: ObjectFinder | None = None):
        self.names = names
        self.detector = detector

    def detect(self, image: np.ndarray, phrase: str) -> list[DetectionLike]:
        if self.detector is None or self.names.lookup(Target(phrase=phrase)) is not None:
            return list(MaskNamesFinder(self.names).detect(image, phrase))
        return list(self.detector.detect(image, phrase))

    def known_objects(self, image: np.ndarray) -> list[DetectionLike]:
        seen: list[DetectionLike] = list(MaskNamesFinder(self.names).known_objects(image))
        return seen + (list(self.detector.known_objects(image)) if self.detector is not None else [])


def _float_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = bbox(mask)
    return float(x0), float(y0), float(x1), float(y1)


@dataclass(frozen=True)
class Unresolved:
    """A target the plan names that could not be turned into a mask, and why."""

    target: Target
    reason: str


@dataclass
class AgentOutcome:
    """The plan and the edit, or (``result`` None) exactly which targets are missing."""

    plan: EditPlan
    result: EditResult | None = None
    missing: list[Unresolved] = field(default_factory=list)
    revised: bool = False
    detections: list[DetectionLike] = field(default_factory=list)

    @property
    def question(self) -> str | None:
        """What to ask the user when the edit could not be done."""
        if not self.missing:
            return None
        lines = [f"- '{item.target.key}': {item.reason}" for item in self.missing]
        seen = ", ".join(dict.fromkeys(d.label for d in self.detections))
        hint = f"I can see: {seen}. " if seen else ""
        return (
            "I could not find every object to edit:\n"
            + "\n".join(lines)
            + f"\n{hint}Which object do you mean? Rephrase, or {give_object('NAME')}."
        )


class _ResolvedOnce:
    """Hands :class:`LayerStack` the masks already found, so nothing is grounded twice."""

    def __init__(self, resolver: MaskResolver):
        self.resolver = resolver
        self.found: dict[tuple[int, str], list[np.ndarray]] = {}

    def resolve(self, image: np.ndarray, target: Target) -> list[np.ndarray]:
        key = (id(image), target.key)
        if key not in self.found:
            self.found[key] = self.resolver.resolve(image, target)
        return self.found[key]


class _Unresolvable(Exception):
    """Some target of the plan cannot be found even after a revision: the agent asks instead."""


class EditAgent:
    """Carries out one instruction on one image; reused across chat turns (one engine instance).

    The edit itself is :func:`layeredit.editing.run_edit`, as for every interface; the agent adds
    the review between plan and render: ground every target, let a planner that looks at the
    picture revise once, and when something is still missing, ask instead of editing.
    """

    def __init__(
        self,
        planner: Planner,
        resolver: MaskResolver,
        engine: Engine,
        finder: ObjectFinder | None = None,
        scope: FileScope | None = None,
        resolution: ResolutionParams | None = None,
        sources: SourceLoader | None = None,
        refine_mask: np.ndarray | None = None,
    ):
        self.planner = planner
        self.resolver = resolver
        self.engine = engine
        self.finder = finder
        self.scope = scope  # where an insert's source picture may be read from (None: anywhere)
        self.resolution = resolution or ResolutionParams()
        self.sources = sources  # pictures given for inserts, by name; before the scope is asked
        self.refine_mask = refine_mask  # features beside a removed object kept out of its hole

    def plan(self, image: np.ndarray, instruction: str, previous: Antecedent | None = None) -> EditPlan:
        size = (image.shape[1], image.shape[0])
        image = image[..., :3]
        if isinstance(self.planner, RevisingPlanner):
            return self.planner.plan(instruction, size, previous, image=image, detections=self._seen(image))
        return self.planner.plan(instruction, size, previous)

    def run(
        self,
        image: np.ndarray,
        instruction: str | EditPlan,
        previous: Antecedent | None = None,
        progress: ProgressCallback | None = None,
    ) -> AgentOutcome:
        start = time.perf_counter()
        given_plan = isinstance(instruction, EditPlan)
        plan = instruction if given_plan else self.plan(image, instruction, previous)
        planning = time.perf_counter() - start
        resolver = _ResolvedOnce(self.resolver)
        outcome = AgentOutcome(plan=plan)

        def review(pixels: np.ndarray, planned: EditPlan) -> EditPlan:
            outcome.missing = self.unresolved(pixels, planned, resolver)
            if outcome.missing and self.finder is not None:
                outcome.detections = self._detections_for(pixels, outcome.missing)
            if outcome.missing and not given_plan and isinstance(self.planner, RevisingPlanner):
                size = (pixels.shape[1], pixels.shape[0])
                problems = [f"{item.target.key}: {item.reason}" for item in outcome.missing]
                outcome.plan = self.planner.revise(
                    str(instruction), size, planned, problems, outcome.detections, previous, pixels
                )
                outcome.revised = True
                outcome.missing = self.unresolved(pixels, outcome.plan, resolver)
            if outcome.missing:
                raise _Unresolvable
            return outcome.plan

        options = EditOptions(
            resolution=self.resolution, previous=previous, sources=self._load_source,
            refine_mask=self.refine_mask, progress=progress, review=review,
        )  # fmt: skip
        try:
            outcome.result = run_edit(image, plan, self.planner, resolver, self.engine, options)
        except _Unresolvable:
            return outcome
        # Planning ran before the edit's own plan stage (which grounds and reviews the plan).
        timings = outcome.result.timings
        timings["plan"] += planning
        timings["total"] += planning
        return outcome

    def _load_source(self, path: str) -> np.ndarray:
        if self.sources is not None:
            try:
                return self.sources(path)
            except LookupError:
                pass  # not among the pictures given: the scope decides whether a file may be read
        return load_image(scoped(self.scope, path, "insert source"))

    def unresolved(self, image: np.ndarray, plan: EditPlan, resolver: MaskResolver) -> list[Unresolved]:
        missing = []
        for target in plan.targets():
            try:
                masks = resolver.resolve(image, target)
            except (LookupError, ValueError) as exc:
                missing.append(Unresolved(target, str(exc)))
                continue
            if not any(mask.any() for mask in masks):
                missing.append(
                    Unresolved(target, f"no '{target.phrase}' is in the picture (its mask is empty)")
                )
            elif target.select is None and self.finder is not None:
                rivals = self._close_rivals(image, target)
                if rivals > 1:
                    missing.append(
                        Unresolved(
                            target,
                            f"{rivals} objects match '{target.phrase}' about equally well; say which one "
                            "(left/right, largest, the second from the left, or all)",
                        )
                    )
        return missing

    def _close_rivals(self, image: np.ndarray, target: Target) -> int:
        assert self.finder is not None
        scores = sorted((float(d.score) for d in self.finder.detect(image, target.phrase)), reverse=True)
        return sum(1 for s in scores if scores[0] - s < AMBIGUITY_MARGIN) if scores else 0

    def _seen(self, image: np.ndarray) -> list[DetectionLike]:
        return list(self.finder.known_objects(image)) if self.finder is not None else []

    def _detections_for(self, image: np.ndarray, missing: list[Unresolved]) -> list[DetectionLike]:
        assert self.finder is not None
        found: list[DetectionLike] = list(self.finder.known_objects(image))
        for item in missing:
            found += self.finder.detect(image, item.target.phrase)
        unique = {(d.label, tuple(round(v) for v in d.box)): d for d in found}
        return list(unique.values())


def last_target(plan: EditPlan) -> Target | None:
    """What a pronoun in the next instruction refers to: the last object this plan touched."""
    for op in reversed(plan.operations):
        target = getattr(op, "target", None)
        if target is not None and op.op != "insert":
            return target
    return None
