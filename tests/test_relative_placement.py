"""Relative placement (beside / toward / like): the rule itself, and where `layeredit edit` with
masks puts the object on both engines (box edges within 2% of the rule)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from layeredit.engine.placement import Box, beside_offset, matching_scale, toward_offset
from layeredit.errors import PlacementError
from tests.test_cli import layeredit
from tests.tiny_models import save_tiny_sdxl

W, H = 256, 128
CUP = Box(20, 30, 60, 70)  # red square, the object moved
BOWL = Box(150, 60, 210, 110)  # blue box, the anchor
GAP = 0.02  # SceneParams.beside_gap
NAMES = ("cup", "bowl")


def placed(obj: Box, offset: tuple[float, float]) -> Box:
    return obj.shifted(*offset)


def test_left_of_touches_with_a_gap_and_aligns_bottoms():
    box = placed(CUP, beside_offset(CUP, BOWL, "left", (W, H), GAP, NAMES))
    assert box.x1 == pytest.approx(BOWL.x0 - GAP * W) and box.y1 == BOWL.y1


def test_above_centres_horizontally():
    box = placed(CUP, beside_offset(CUP, BOWL, "above", (W, H), GAP, NAMES))
    assert box.y1 == pytest.approx(BOWL.y0 - GAP * H) and box.center[0] == BOWL.center[0]


def test_no_side_means_the_nearer_side():
    assert placed(CUP, beside_offset(CUP, BOWL, None, (W, H), GAP, NAMES)).x1 < BOWL.x0
    far_right = Box(220, 0, 250, 20)
    offset = beside_offset(far_right, Box(100, 60, 150, 110), None, (W, H), GAP, NAMES)
    assert placed(far_right, offset).x0 > 150


def test_a_placement_is_clamped_in_frame_and_refused_when_it_cannot_fit():
    low_anchor = Box(150, 100, 210, 128)
    box = placed(CUP, beside_offset(CUP, Box(150, 10, 210, 20), "left", (W, H), GAP, NAMES))
    assert box.y0 == 0  # bottoms would align above the frame: clamped
    with pytest.raises(PlacementError, match="does not fit to the right of the bowl"):
        beside_offset(CUP, Box(200, 60, 250, 110), "right", (W, H), GAP, NAMES)
    with pytest.raises(PlacementError, match="does not fit below the bowl"):
        beside_offset(CUP, low_anchor, "below", (W, H), GAP, NAMES)


def test_toward_closes_a_fraction_of_the_gap_along_the_centre_line():
    dx, dy = toward_offset(CUP, BOWL, 1.0, (W, H), GAP, NAMES)
    touching = placed(CUP, (dx, dy))
    assert touching.x1 == pytest.approx(BOWL.x0 - GAP * W)
    half = toward_offset(CUP, BOWL, None, (W, H), GAP, NAMES)
    assert half == pytest.approx((dx / 2, dy / 2))
    with pytest.raises(PlacementError, match="already touches"):
        toward_offset(CUP, Box(55, 30, 90, 70), 0.5, (W, H), GAP, NAMES)


def test_like_matches_the_anchor_height():
    assert matching_scale(CUP, BOWL) == pytest.approx(50 / 40)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scene")
    image = np.full((H, W, 3), 128, np.uint8)
    image[30:70, 20:60] = (220, 30, 30)
    image[60:110, 150:210] = (30, 30, 220)
    Image.fromarray(image).save(folder / "image.png")
    for name, box in (("cup", CUP), ("bowl", BOWL)):
        mask = np.zeros((H, W), np.uint8)
        mask[int(box.y0) : int(box.y1), int(box.x0) : int(box.x1)] = 255
        Image.fromarray(mask).save(folder / f"{name}.png")
    return folder


def edit(scene: Path, out: Path, instruction: str, *extra: str, masks: tuple[str, ...] = ("cup", "bowl")):
    mask_args = [arg for name in masks for arg in ("--mask", f"{name}={scene / f'{name}.png'}")]
    return layeredit("edit", scene / "image.png", instruction, *mask_args, "-o", out, *extra)


def red_box(path: Path) -> Box:
    pixels = np.asarray(Image.open(path)).astype(int)
    ys, xs = np.nonzero((pixels[..., 0] > 170) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90))
    return Box(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


def assert_box_near(actual: Box, expected: Box) -> None:
    for edge, size in (("x0", W), ("y0", H), ("x1", W), ("y1", H)):
        assert abs(getattr(actual, edge) - getattr(expected, edge)) <= 0.02 * size, (edge, actual, expected)


def rule(side: str) -> Box:
    return placed(CUP, beside_offset(CUP, BOWL, side, (W, H), GAP, NAMES))


PIXEL_CASES = {
    "put the cup to the left of the bowl": rule("left"),
    "Could you place the cup above the bowl? thx": rule("above"),
    "move the cup next to the bowl": rule("left"),
    "move the cup closer to the bowl": placed(CUP, toward_offset(CUP, BOWL, None, (W, H), GAP, NAMES)),
    "make the cup as big as the bowl": Box(15, 25, 65, 75),
}


@pytest.mark.parametrize("instruction", list(PIXEL_CASES))
def test_pixel_engine_puts_the_object_where_the_rule_says(scene, tmp_path, instruction):
    done = edit(scene, tmp_path / "out.png", instruction)
    assert done.returncode == 0, done.stderr
    assert_box_near(red_box(tmp_path / "out.png"), PIXEL_CASES[instruction])


def test_a_missing_anchor_gets_the_same_error_as_a_missing_target(scene, tmp_path):
    as_anchor = edit(scene, tmp_path / "a.png", "put the cup next to the vase", masks=("cup",))
    as_target = edit(scene, tmp_path / "b.png", "move the cup left and remove the vase", masks=("cup",))
    assert as_anchor.returncode == as_target.returncode != 0
    assert as_anchor.stderr.strip() == as_target.stderr.strip() and "vase" in as_anchor.stderr
    assert not (tmp_path / "a.png").exists()


def test_a_placement_that_cannot_fit_says_so(scene, tmp_path):
    done = edit(scene, tmp_path / "out.png", "put the bowl below the cup and the cup under the bowl")
    assert done.returncode != 0 and "does not fit" in done.stderr.strip().splitlines()[-1]


def test_designedit_engine_places_the_layer_where_the_rule_says(scene, tmp_path):
    model = save_tiny_sdxl(tmp_path / "tiny-sdxl")
    layers = tmp_path / "layers"
    done = edit(
        scene, tmp_path / "out.png", "move the cup above the bowl", "--engine", "designedit",
        "--model", model,
        "--steps", "4", "--resolution", "64", "--no-progress-bar", "--device", "cpu", "--save-layers", layers,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    alpha = np.asarray(Image.open(next(layers.glob("*_cup.png"))))[..., 3]
    ys, xs = np.nonzero(alpha > 127)
    assert_box_near(Box(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1), rule("above"))


def test_a_copy_goes_beside_the_anchor_and_the_original_stays(scene, tmp_path):
    out = tmp_path / "out.png"
    done = edit(scene, out, "add another cup to the right of the bowl")
    assert done.returncode == 0, done.stderr
    pixels = np.asarray(Image.open(out)).astype(int)
    red = (pixels[..., 0] > 170) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)
    ys, xs = np.nonzero(red[:, 140:])
    assert_box_near(Box(xs.min() + 140, ys.min(), xs.max() + 141, ys.max() + 1), rule("right"))
    assert red[30:70, 20:60].mean() > 0.95  # the original cup is where it was


def test_in_a_chat_the_anchor_keeps_its_mask_and_the_object_is_found_where_it_went(scene, tmp_path):
    from layeredit.agent.chat import ChatSession
    from layeredit.agent.rules import RulePlanner
    from layeredit.engine.pixel import PixelEngine

    masks = {name: str(scene / f"{name}.png") for name in ("cup", "bowl")}
    session = ChatSession.start(scene / "image.png", tmp_path / "chat", RulePlanner(), PixelEngine(), masks)
    bowl_before = session.turn.masks["bowl"].copy()
    assert session.handle("put the cup to the left of the bowl").startswith("done: move cup left of bowl")
    assert (session.turn.masks["bowl"] == bowl_before).all()
    ys, xs = np.nonzero(session.turn.masks["cup"])
    assert_box_near(Box(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1), rule("left"))
