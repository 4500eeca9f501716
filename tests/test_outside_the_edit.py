"""Outside the edited region the picture is untouched, whichever match a target selects, on both engines.

The masks are what a weak detector gives: several noisy blobs, some cut by the frame's edges, so
selected objects that enter the frame from an edge are covered too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from layeredit.engine.designedit import DesignEditConfig, DesignEditEngine
from layeredit.engine.layers import LayerStack
from layeredit.engine.pixel import PixelEngine
from layeredit.plan import EditPlan
from layeredit.tools.resolve import NamedMasks
from tests.tiny_models import save_tiny_sdxl

SELECTIONS = [
    {}, {"select": "all"}, {"select": "largest"}, {"select": "smallest"}, {"select": "leftmost"},
    {"select": "rightmost"}, {"select": "topmost"}, {"select": "bottommost"}, {"select": "index", "index": 1},
]  # fmt: skip
MOVES = [(0.1, -0.05), (-0.3, 0.2), (0.45, 0.45)]


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray]:
    """A 96x128 noisy photo and a mask of four speckled blobs, two cut by the frame."""
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    mask = np.zeros((96, 128), bool)
    yy, xx = np.mgrid[:96, :128]
    for cx, cy, r in ((0, 30, 14), (60, 0, 12), (127, 70, 16), (50, 60, 10)):
        mask |= (xx - cx) ** 2 + (yy - cy) ** 2 < r**2
    mask &= rng.random(mask.shape) > 0.15  # pinholes, as from a noisy segmenter
    return image, mask


def _outside_changes(engine, image: np.ndarray, mask: np.ndarray, selection: dict, move: tuple) -> int:
    target = {"phrase": "thing", **selection}
    plan = EditPlan.parse({"operations": [{"op": "move", "target": target, "dx": move[0], "dy": move[1]}]})
    stack = LayerStack.build(image, plan, NamedMasks({"thing": mask}))
    result = engine.run(stack, plan)
    outside = ~result.scene.edited_region()
    assert outside.any() and result.image.shape == image.shape
    return int((result.image != image).any(axis=-1)[outside].sum())


@pytest.mark.parametrize("selection", SELECTIONS, ids=lambda s: s.get("select", "best"))
def test_pixel_engine_keeps_everything_outside(scene, selection):
    image, mask = scene
    for move in MOVES:
        assert _outside_changes(PixelEngine(), image, mask, selection, move) == 0, move


@pytest.fixture(scope="module")
def tiny_designedit(tmp_path_factory: pytest.TempPathFactory) -> DesignEditEngine:
    folder: Path = save_tiny_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl")
    config = DesignEditConfig(steps=2, resolution=64, progress_bar=False)
    return DesignEditEngine.from_pretrained(str(folder), device="cpu", config=config)


@pytest.mark.parametrize("select", ["rightmost", "topmost"])
def test_designedit_engine_keeps_everything_outside(scene, tiny_designedit, select):
    # The region and the selection logic are shared with the pixel engine; two cuts keep this fast.
    image, mask = scene
    assert _outside_changes(tiny_designedit, image, mask, {"select": select}, MOVES[0]) == 0
