"""Which segmenter cuts the objects out (``--segmenter sam|isnet|grabcut``).

Without a choice: Segment Anything where its weights are on this machine (or named), else IS-Net
where its model file is found, else GrabCut, with a one-line warning that masks will be rough.
"""

from __future__ import annotations

import sys
import typing
from typing import TYPE_CHECKING

from layeredit.hub import cached_on_this_machine
from layeredit.tools.defaults import DEFAULT_SAM_MODEL, SegmenterName
from layeredit.tools.isnet import ISNET_HELP, find_isnet_model

if TYPE_CHECKING:
    from layeredit.tools.points import PointSegmenter
    from layeredit.tools.segmentation import Segmenter

SEGMENTERS: tuple[SegmenterName, ...] = typing.get_args(SegmenterName)
ROUGH_MASKS_WARNING = (
    "warning: no segmentation model found, so masks will be rough (GrabCut); for good masks "
    f"{ISNET_HELP}, or give Segment Anything with --sam-model"
)
_warned = False


def chosen_segmenter(
    choice: SegmenterName | None, sam_model: str | None = None, isnet_model: str | None = None
) -> SegmenterName:
    """``choice``, else the best one this machine has (a model named by flag counts as present)."""
    if choice is not None:
        return choice
    if sam_model or cached_on_this_machine(DEFAULT_SAM_MODEL):
        return "sam"
    if isnet_model or find_isnet_model() is not None:
        return "isnet"
    warn_rough_masks()
    return "grabcut"


def warn_rough_masks() -> None:
    """Say once per process, on standard error, that GrabCut stands in for a model."""
    global _warned
    if not _warned:
        print(ROUGH_MASKS_WARNING, file=sys.stderr)
        _warned = True


def make_box_segmenter(
    choice: SegmenterName | None = None,
    sam_model: str | None = None,
    isnet_model: str | None = None,
    device: str | None = None,
) -> Segmenter:
    """The segmenter for boxes and points (grounding's boxes, ``segment --box/--point``)."""
    name = chosen_segmenter(choice, sam_model, isnet_model)
    if name == "sam":
        from layeredit.tools.segmentation import make_segmenter

        return make_segmenter(sam_model, device)
    if name == "isnet":
        from layeredit.tools.isnet import IsNetSegmenter

        return IsNetSegmenter(isnet_model)
    from layeredit.tools.grabcut import GrabCutSegmenter

    return GrabCutSegmenter()


def make_point_segmenter(
    choice: SegmenterName | None = None,
    sam_model: str | None = None,
    isnet_model: str | None = None,
    device: str | None = None,
) -> PointSegmenter:
    """The web editor's click-to-mask segmenter."""
    name = chosen_segmenter(choice, sam_model, isnet_model)
    if name == "sam":
        from layeredit.tools.points import SamPointSegmenter
        from layeredit.tools.segmentation import make_segmenter

        return SamPointSegmenter(make_segmenter(sam_model, device))
    if name == "isnet":
        from layeredit.tools.isnet import IsNetSegmenter

        return IsNetSegmenter(isnet_model)
    from layeredit.tools.points import GrabCutPointSegmenter

    return GrabCutPointSegmenter()
