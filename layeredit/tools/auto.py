"""Automatic object finding for targets without a user-given mask, loaded only when needed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from layeredit.hints import current, give_object
from layeredit.hub import cached_on_this_machine, download_command
from layeredit.plan import Target
from layeredit.tools.defaults import (
    DEFAULT_BOX_THRESHOLD,
    DEFAULT_GROUNDING_MODEL,
    DEFAULT_SAM_MODEL,
    DEFAULT_TEXT_THRESHOLD,
    PerceptionOptions,
    SegmenterName,
)
from layeredit.tools.resolve import TargetNotFoundError, head_noun

if TYPE_CHECKING:
    from layeredit.tools.grounding import Detection
    from layeredit.tools.perception import GroundedResolver, GroundingFinder, Located
    from layeredit.tools.segmentation import Segmenter


class AutomaticResolver:
    """Grounding + a segmenter (``segmenter``: Segment Anything, IS-Net or GrabCut; None picks the
    best one here), loaded on the first target that needs them.

    Models named explicitly are loaded (and downloaded) as asked. The default models are used
    only when they are already on this machine, so an edit never stalls on a download nobody
    asked for; otherwise the error says how to mark the object or fetch the models.
    """

    def __init__(
        self,
        grounding_model: str | None = None,
        sam_model: str | None = None,
        device: str | None = None,
        box_threshold: float = DEFAULT_BOX_THRESHOLD,
        text_threshold: float = DEFAULT_TEXT_THRESHOLD,
        segmenter: SegmenterName | None = None,
        isnet_model: str | None = None,
    ):
        self.grounding_model, self.sam_model, self.device = grounding_model, sam_model, device
        self.segmenter, self.isnet_model = segmenter, isnet_model
        self.box_threshold, self.text_threshold = box_threshold, text_threshold
        self._resolver: GroundedResolver | None = None

    @classmethod
    def from_options(cls, options: PerceptionOptions, device: str | None = None) -> AutomaticResolver:
        return cls(
            options.grounding_model, options.sam_model, device, options.box_threshold, options.text_threshold,
            options.segmenter, options.isnet_model,
        )  # fmt: skip

    def resolve(self, image: np.ndarray, target: Target) -> list[np.ndarray]:
        return self._loaded(target).resolve(image, target)

    def locate(self, image: np.ndarray, target: Target) -> list[Located]:
        """The objects with the detections that found them (boxes, labels, scores)."""
        return self._loaded(target).locate(image, target)

    def detect(self, image: np.ndarray, phrase: str) -> list[Detection]:
        """The matches of ``phrase``, best first (the agent's ``ObjectFinder``)."""
        return self._finder(phrase).detect(image, phrase)

    def known_objects(self, image: np.ndarray) -> list[Detection]:
        """Common things seen in ``image``, for a planner choosing what to name."""
        return self._finder("object").known_objects(image)

    def _finder(self, phrase: str) -> GroundingFinder:
        from layeredit.tools.perception import GroundingFinder

        return GroundingFinder(self._loaded(Target(phrase=phrase)).grounder)

    def _loaded(self, target: Target) -> GroundedResolver:
        if self._resolver is None:
            self._resolver = self._load(target)
        return self._resolver

    def missing_models(self) -> list[str]:
        """Default hub models this resolver would need that are not on this machine (Segment
        Anything only when chosen: without a choice IS-Net or GrabCut stands in for it)."""
        pairs = [(self.grounding_model, DEFAULT_GROUNDING_MODEL)]
        if self.segmenter == "sam":
            pairs.append((self.sam_model, DEFAULT_SAM_MODEL))
        return [default for given, default in pairs if given is None and not cached_on_this_machine(default)]

    def make_segmenter(self) -> Segmenter:
        """The segmenter the options choose, for boxes and clicks."""
        from layeredit.tools.segmenters import make_box_segmenter

        return make_box_segmenter(self.segmenter, self.sam_model, self.isnet_model, self.device)

    def _load(self, target: Target) -> GroundedResolver:
        missing = self.missing_models()
        if missing:
            noun = head_noun(target.phrase)
            raise TargetNotFoundError(
                f"no mask for '{target.phrase}': {give_object(noun)}, "
                f"or {how_to_get(missing)} to find objects by name"
            )
        return self.grounded()

    def grounded(self) -> GroundedResolver:
        """A fresh detector + segmenter pair from these options (the models themselves load once)."""
        from layeredit.tools.grounding import GroundingThresholds, make_grounder
        from layeredit.tools.perception import GroundedResolver

        thresholds = GroundingThresholds(box=self.box_threshold, text=self.text_threshold)
        # The detector first: a missing one is reported before the segmenter spends time loading.
        grounder = make_grounder(self.grounding_model, device=self.device, thresholds=thresholds)
        return GroundedResolver(grounder, self.make_segmenter())


def how_to_get(models: list[str]) -> str:
    """How to fetch the default detection models, or choose others where the interface allows it."""
    choose = current().models
    return f"get the detection models ({download_command(*models)}{f'; or {choose}' if choose else ''})"
