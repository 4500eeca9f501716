"""Keeping named masks on their objects from one chat turn to the next.

After "move the boy left" the boy's mask must follow him, or "now make him bigger" would cut
the empty spot where he stood.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from layeredit.engine.base import EditResult
from layeredit.plan import Pan, ZoomOut
from layeredit.tools.resolve import head_noun


def _phrase(layer_name: str) -> str:
    """The target phrase of a layer named by its target key (``boy[leftmost]`` → ``boy``)."""
    return layer_name.split("[", 1)[0].strip().lower()


def masks_after_edit(masks: Mapping[str, np.ndarray], result: EditResult) -> dict[str, np.ndarray]:
    """Each named mask where its object is in ``result.image``; masks of removed objects are dropped.

    Objects the plan touched leave their old footprint (the scene's hole) and cover the place their
    layer was pasted. A pan or zoom-out moves every pixel, so only the touched objects' masks survive.
    """
    scene = result.scene
    moves_everything = any(isinstance(op, (Pan, ZoomOut)) for op in result.plan.operations)
    followed: dict[str, np.ndarray] = {}
    for name, mask in masks.items():
        key = name.strip().lower()
        placed = [
            layer.placed_mask()
            for layer in scene.drawn
            if key in (_phrase(layer.name), head_noun(_phrase(layer.name)))
        ]
        stays = np.zeros_like(mask) if moves_everything else mask & ~scene.hole
        now = np.logical_or.reduce([stays, *placed])
        if now.any():
            followed[name] = now
    return followed
