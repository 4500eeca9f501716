"""Targets to masks by looking: grounding finds the phrase, Segment Anything cuts the objects out.

:class:`GroundedResolver` is the automatic :class:`~layeredit.tools.resolve.MaskResolver`;
:class:`CombinedResolver` lets masks and boxes the user gave by name win over detection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from layeredit.hints import give_object
from layeredit.plan import Target
from layeredit.tools.grounding import (
    SURVEY_VOCABULARY,
    Box,
    Detection,
    Grounder,
    GroundingThresholds,
    make_grounder,
    survey_phrases,
)
from layeredit.tools.masks import MAX_HOLE_FRACTION, MIN_SPECK_FRACTION, bbox, clean_mask
from layeredit.tools.resolve import MaskResolver, NamedMasks, TargetNotFoundError, box_mask, head_noun
from layeredit.tools.segmentation import Segmenter, make_segmenter
from layeredit.tools.selection import Candidate, select_candidates

# Detections this confident are listed when a phrase matches nothing ("saw: chair 0.41").
DEFAULT_REPORT_THRESHOLD = 0.2
REPORT_LIMIT = 6


@dataclass(frozen=True)
class Located:
    """One object a target means: the detection that found it and its mask (bool H x W)."""

    detection: Detection
    mask: np.ndarray


@runtime_checkable
class ObjectLocator(Protocol):
    def locate(self, image: np.ndarray, target: Target) -> list[Located]:
        """The objects ``target`` means, left to right, with how each was found."""
        ...


class GroundedResolver:
    """phrase → detections → selection → SAM masks → cleaned masks.

    Selection works on the detections (box area for largest/smallest), so only the chosen boxes
    are segmented. Masks are not dilated here: the engines grow them per role. A resolver holds
    its segmenter's current picture: use one per thread (the model weights are shared anyway).
    """

    def __init__(
        self,
        grounder: Grounder,
        segmenter: Segmenter,
        report_threshold: float = DEFAULT_REPORT_THRESHOLD,
        max_hole_fraction: float = MAX_HOLE_FRACTION,
        min_speck_fraction: float = MIN_SPECK_FRACTION,
    ):
        self.grounder = grounder
        self.segmenter = segmenter
        self.report_threshold = report_threshold
        self.max_hole_fraction = max_hole_fraction
        self.min_speck_fraction = min_speck_fraction

    def locate(self, image: np.ndarray, target: Target) -> list[Located]:
        detections = self.grounder.detect(image, target.grounding_phrase)
        if not detections:
            raise TargetNotFoundError(self.not_found_message(image, target.phrase))
        candidates = [Candidate(box=d.box, area=d.area, score=d.score) for d in detections]
        chosen = [detections[i] for i in select_candidates(candidates, target)]
        self.segmenter.set_image(image)
        masks = self.segmenter.predict([d.box for d in chosen])
        return [
            Located(detection=d, mask=self._finish_mask(mask, d, image.shape))
            for d, mask in zip(chosen, masks, strict=True)
        ]

    def resolve(self, image: np.ndarray, target: Target) -> list[np.ndarray]:
        return [found.mask for found in self.locate(image, target)]

    def not_found_message(self, image: np.ndarray, phrase: str) -> str:
        """``no 'lamp' found; saw: chair 0.41, table 0.38`` (best score per label) and how to give
        the object by hand.

        "Saw" comes from one more detector pass at the low report threshold over the phrase plus a
        fixed vocabulary of common things: near misses of the phrase itself and what else is there.
        """
        seen = self.grounder.detect(image, survey_phrases(phrase), threshold=self.report_threshold)
        best: dict[str, float] = {}
        for detection in sorted(seen, key=lambda d: d.score, reverse=True):
            best.setdefault(detection.label, detection.score)
        if best:
            listed = ", ".join(f"{label} {score:.2f}" for label, score in list(best.items())[:REPORT_LIMIT])
        else:
            listed = f"nothing above {self.report_threshold:.2f}"
        name = head_noun(phrase)
        return (
            f"no '{phrase}' found; saw: {listed}. Rephrase the object, or mark it by hand: "
            f"{give_object(name)}"
        )

    def _finish_mask(self, mask: np.ndarray, detection: Detection, shape: tuple[int, ...]) -> np.ndarray:
        cleaned = clean_mask(mask, self.max_hole_fraction, self.min_speck_fraction)
        # SAM can return nothing for a box; the box itself is a better layer than no layer.
        return cleaned if cleaned.any() else covering_box_mask(detection.box, shape)


def make_resolver(
    grounding_model: str | None = None,
    sam_model: str | None = None,
    device: str | None = None,
    thresholds: GroundingThresholds | None = None,
) -> GroundedResolver:
    """The automatic resolver from model names (hub ids, local folders or ``.pth`` checkpoints);
    ``None`` picks the defaults. Raises :class:`~layeredit.errors.ModelLoadError` for missing models."""
    return GroundedResolver(
        make_grounder(grounding_model, device=device, thresholds=thresholds),
        make_segmenter(sam_model, device=device),
    )


class CombinedResolver:
    """User-given masks/boxes for the names they cover (``--mask``/``--box``), detection for the rest."""

    def __init__(self, named: NamedMasks, fallback: MaskResolver):
        self.named = named
        self.fallback = fallback

    def resolve(self, image: np.ndarray, target: Target) -> list[np.ndarray]:
        if self.named.lookup(target) is not None:
            return self.named.resolve(image, target)
        return self.fallback.resolve(image, target)

    def locate(self, image: np.ndarray, target: Target) -> list[Located]:
        if self.named.lookup(target) is None and isinstance(self.fallback, ObjectLocator):
            return self.fallback.locate(image, target)
        return [given_object(mask, target.phrase) for mask in self.resolve(image, target)]


def covering_box_mask(box: Box, shape: tuple[int, ...]) -> np.ndarray:
    """Every pixel a fractional (x0, y0, x1, y1) box touches."""
    x0, y0, x1, y1 = box
    return box_mask((math.floor(x0), math.floor(y0), math.ceil(x1), math.ceil(y1)), (shape[1], shape[0]))


def given_object(mask: np.ndarray, label: str) -> Located:
    """A mask that was not detected (given by the user): its box, full confidence."""
    box = tuple(float(v) for v in bbox(mask)) if mask.any() else (0.0, 0.0, 0.0, 0.0)
    return Located(detection=Detection(box=box, score=1.0, label=label), mask=mask)


class GroundingFinder:
    """The agent's ``ObjectFinder`` on a grounder: matches of a phrase, and what the picture holds."""

    def __init__(self, grounder: Grounder, survey_threshold: float = DEFAULT_REPORT_THRESHOLD):
        self.grounder = grounder
        self.survey_threshold = survey_threshold

    def detect(self, image: np.ndarray, phrase: str) -> list[Detection]:
        return self.grounder.detect(image, phrase)

    def known_objects(self, image: np.ndarray) -> list[Detection]:
        """Common things (:data:`~layeredit.tools.grounding.SURVEY_VOCABULARY`) seen in ``image``."""
        return self.grounder.detect(image, SURVEY_VOCABULARY, threshold=self.survey_threshold)
