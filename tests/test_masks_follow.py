"""One rule keeps named masks on their objects after an edit, for chat turns and REST answers alike."""

from __future__ import annotations

import numpy as np

from layeredit.editing import masks_after_edit, run_edit
from layeredit.engine.pixel import PixelEngine
from layeredit.tools.masks import shift
from layeredit.tools.resolve import NamedMasks
from tests.test_one_road import picture


def followed(operations: list[dict]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    image, masks = picture(128, 96)
    result = run_edit(image, {"operations": operations}, None, NamedMasks(masks), PixelEngine())
    return masks, masks_after_edit(masks, result)


def test_a_moved_object_takes_its_mask_along_and_the_others_stay():
    before, after = followed([{"op": "move", "target": {"phrase": "ball"}, "dx": -0.25}])
    assert np.array_equal(after["ball"], shift(before["ball"], -32, 0))
    assert np.array_equal(after["box"], before["box"])


def test_a_pan_moves_every_mask_with_the_picture():
    """Chat kept the old masks after a pan (pointing at the wrong place); the server dropped them."""
    before, after = followed([{"op": "pan", "dx": 0.1}])
    assert sorted(after) == ["ball", "box"]
    for name in after:
        assert np.array_equal(after[name], shift(before[name], -13, 0))


def test_a_zoom_out_shrinks_every_mask_about_the_centre():
    before, after = followed([{"op": "zoom_out", "scale": 0.5}])
    area = {name: (int(before[name].sum()), int(after[name].sum())) for name in before}
    assert all(0.2 * old < new < 0.3 * old for old, new in area.values())  # a quarter of the area
    ys, xs = np.nonzero(after["ball"])
    assert abs(xs.mean() - (32 + 0.5 * 0.7 * 128)) < 2 and abs(ys.mean() - (24 + 0.5 * 0.6 * 96)) < 2


def test_a_removed_object_loses_its_mask():
    _, after = followed([{"op": "remove", "target": {"phrase": "box"}}])
    assert sorted(after) == ["ball"]
