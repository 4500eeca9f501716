"""Mask growth parameters mean what they say: zero is no growth."""

from __future__ import annotations

import numpy as np

from layeredit.engine.layers import LayerStack
from layeredit.engine.scene import SceneParams, compile_scene
from layeredit.plan import EditPlan
from layeredit.tools.masks import scaled_px
from layeredit.tools.resolve import NamedMasks


def test_zero_hole_dilation_leaves_the_hole_the_object_mask(soccer) -> None:
    image, boy = soccer
    plan = EditPlan.parse({"operations": [{"op": "remove", "target": {"phrase": "boy"}}]})
    stack = LayerStack.build(image, plan, NamedMasks({"boy": boy}))
    scene = compile_scene(stack, plan, SceneParams(hole_dilation=0))
    assert np.array_equal(scene.hole, boy)
    grown = compile_scene(stack, plan, SceneParams(hole_dilation=20))
    assert grown.hole.sum() > boy.sum() and not grown.hole[~boy].all()


def test_scaled_px_keeps_zero_and_gives_a_positive_size_at_least_one_pixel() -> None:
    assert scaled_px(0, (64, 64)) == 0
    assert scaled_px(0.1, (64, 64)) == 1
    assert scaled_px(20, (512, 512)) == 10
