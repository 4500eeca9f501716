"""Automatic object finding for targets without a user-given mask, loaded only when needed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from layeredit.hints import current, give_object
from layeredit.hub import download_command
from layeredit.plan import Target
from layeredit.tools.defaults import (
    DEFAULT_BOX_THRESHOLD,
    DEFAULT_GROUNDING_MODEL,
    DEFAULT_SAM_MODEL,
    DEFAULT_TEXT_THRESHOLD,
)
from layeredit.tools.resolve import TargetNotFoundError, head_noun

if TYPE_CHECKING:
    from layeredit.tools.grounding import Detection
    from layeredit.tools.perception import GroundedResolver, GroundingFinder, Located


def cached_on_this_machine(model: str) -> bool:
    """True when a hub model's files are in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(model, "config.json"), str)


class AutomaticResolver:
    """Grounding + Segment Anything, loaded on the first target that needs them.

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
    ):
        self.grounding_model, self.sam_model, self.device = grounding_model, sam_model, device
        self.box_threshold, self.text_threshold = box_threshold, text_threshold
        self._resolver: GroundedResolver | None = None

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
        """Default models this resolver would need that are not on this machine."""
        pairs = ((self.grounding_model, DEFAULT_GROUNDING_MODEL), (self.sam_model, DEFAULT_SAM_MODEL))
        return [default for given, default in pairs if given is None and not cached_on_this_machine(default)]

    def _load(self, target: Target) -> GroundedResolver:
        missing = self.missing_models()
        if missing:
            noun = head_noun(target.phrase)
            raise TargetNotFoundError(
                f"no mask for '{target.phrase}': {give_object(noun)}, "
                f"or {how_to_get(missing)} to find objects by name"
            )
        from layeredit.tools.grounding import GroundingThresholds
        from layeredit.tools.perception import make_resolver

        thresholds = GroundingThresholds(box=self.box_threshold, text=self.text_threshold)
        return make_resolver(self.grounding_model, self.sam_model, self.device, thresholds)


def how_to_get(models: list[str]) -> str:
    """How to fetch the default detection models, or choose others where the interface allows it."""
    choose = current().models
    return f"get the detection models ({download_command(*models)}{f'; or {choose}' if choose else ''})"
