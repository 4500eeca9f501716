"""Transparency through an edit: the alpha channel is edited as the colours were.

Engines work on RGB. For an image with transparency the same scene (same masks, same plan) is
rendered on its alpha channel by the pixel engine, so a moved object takes its opacity along,
the hole it leaves is filled from the surrounding alpha, and transparent backgrounds stay so.
"""

from __future__ import annotations

import cv2
import numpy as np

from layeredit.engine.layers import ForeignObject, LayerStack
from layeredit.engine.pixel import PixelEngine
from layeredit.engine.scene import SceneParams
from layeredit.plan import EditPlan


def edited_alpha(
    stack: LayerStack, plan: EditPlan, alpha: np.ndarray, size: tuple[int, int], params: SceneParams | None
) -> np.ndarray:
    """The H x W uint8 alpha of the edited image of ``size`` (width, height)."""
    alpha_stack = LayerStack(
        image=np.repeat(alpha[..., None], 3, axis=2),
        objects=stack.objects,
        # An object inserted from another picture is opaque where it was cut out.
        foreign={
            key: ForeignObject(np.full_like(obj.image, 255), obj.masks) for key, obj in stack.foreign.items()
        },
    )
    edited = PixelEngine(params).run(alpha_stack, plan).image[..., 0]
    if (edited.shape[1], edited.shape[0]) != size:
        edited = cv2.resize(edited, size, interpolation=cv2.INTER_LINEAR)
    return edited
