"""Bad and unusual input: one clear line for every mistake, images of every kind read correctly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import layeredit
from layeredit.errors import BudgetError, LayereditError, clip, user_message
from layeredit.imageio import as_rgb_array, load_image, open_image
from layeredit.tools.masks import MaskError, load_mask
from tests.cli_inprocess import run_cli
from tests.conftest import SAMPLES
from tests.hostile.generate import png_claiming_size

SOCCER = SAMPLES / "soccer" / "image.jpg"
BOY = SAMPLES / "soccer" / "boy.jpg"


def test_every_user_error_shares_one_root():
    from layeredit.agent.errors import PlannerError
    from layeredit.agent.session import SessionError
    from layeredit.errors import ModelLoadError
    from layeredit.imageio import ImageFileError
    from layeredit.plan import PlanError
    from layeredit.server.uploads import RequestError
    from layeredit.tools.resolve import TargetNotFoundError
    from layeredit.tools.selection import SelectionError

    for error in (PlannerError, SessionError, ModelLoadError, ImageFileError, PlanError, RequestError,
                  TargetNotFoundError, SelectionError, MaskError, BudgetError):  # fmt: skip
        assert issubclass(error, LayereditError)


def test_messages_are_one_line_and_long_input_is_cut():
    text = clip("word " * 2000, 100)
    assert len(text) < 140 and "chars cut" in text and "\n" not in text
    assert user_message(MaskError("bad\nmask")) == "error: bad mask"
    bug = user_message(ZeroDivisionError("x"))
    assert bug.startswith("internal error (a bug in layeredit): ZeroDivisionError")
    assert "LAYEREDIT_DEBUG=1" in bug


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--box", "boy=0,0,inf,10"], "box for 'boy' must be four numbers"),
        (["--box", "boy=0,0,1e400,10"], "box for 'boy' must be four numbers"),
        (["--box", "boy=300,300,100,100"], "box for 'boy' is empty or inverted"),
        (["--box", "boy=600,600,700,700"], "box for 'boy' (600, 600, 700, 700) lies outside the 512x512"),
    ],
    ids=["inf", "1e400", "inverted", "outside"],
)
def test_boxes_that_select_nothing_are_errors(tmp_path, args, expected):
    code, _, err = run_cli("edit", SOCCER, "move the boy left", *args, "-o", tmp_path / "o.png")
    assert code == 2 and expected in err and "Traceback" not in err
    assert not (tmp_path / "o.png").exists()


def test_huge_planner_size_and_long_instruction_get_one_short_line():
    code, _, err = run_cli("plan", "move the boy left by 10 pixels", "--size", "99999999999x5")
    assert code == 2 and "between 1 and 1000000" in err
    code, _, err = run_cli("plan", "blah " * 2000)
    assert code == 2 and err.startswith("error: ") and len(err) < 600 and err.count("\n") == 1


@pytest.mark.parametrize("content", ["[1,2,3]", "null", '"x"', "{", '{"format": 1, "current": 0, '
                                     '"turns": [{"image": "/etc/hostname", "masks": {}}]}'])
def test_a_damaged_session_file_is_reported_not_crashed_on(tmp_path, content):
    (tmp_path / "session.json").write_text(content)
    code, out, err = run_cli("chat", "--resume", tmp_path)
    assert code == 2 and err.startswith("error: ") and "damaged" in err and "internal" not in err


def test_a_bug_is_reported_as_one(monkeypatch, tmp_path):
    import layeredit.cli.edit

    def broken(*args, **kwargs):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(layeredit.cli.edit, "edit", broken)
    code, _, err = run_cli("edit", SOCCER, "remove the boy", "--mask", f"boy={BOY}", "-o", tmp_path / "o.png")
    assert code == 1 and "internal error (a bug in layeredit): ZeroDivisionError: oops" in err
    assert "LAYEREDIT_DEBUG=1" in err and "Traceback" not in err


# -- images of every mode ---------------------------------------------------------------------------


GRADIENT = np.tile(np.linspace(0, 1, 64), (32, 1))


@pytest.mark.parametrize(
    "make, suffix",
    [
        (lambda: Image.fromarray((GRADIENT * 65535).astype(np.uint16)), ".png"),
        (lambda: Image.fromarray((GRADIENT * 65535).astype(np.int32), "I"), ".tif"),
        (lambda: Image.fromarray((GRADIENT * (2**31 - 1)).astype(np.int32), "I"), ".tif"),
        (lambda: Image.fromarray(GRADIENT.astype(np.float32), "F"), ".tif"),
        (lambda: Image.fromarray((GRADIENT * 255).astype(np.uint8)).convert("P"), ".png"),
        (lambda: Image.fromarray((GRADIENT * 255).astype(np.uint8)).convert("CMYK"), ".jpg"),
    ],
    ids=["16-bit", "32-bit-holding-16", "32-bit-full", "float", "palette", "cmyk"],
)
def test_deep_and_unusual_modes_keep_their_tones(tmp_path, make, suffix):
    path = tmp_path / f"deep{suffix}"
    make().save(path)
    pixels = load_image(path)
    assert pixels.shape == (32, 64, 3) and pixels.dtype == np.uint8
    row = pixels[16, :, 0].astype(int)
    # Dark on the left, bright on the right: not clipped to white.
    assert row[:4].max() <= 16 and row[-4:].min() >= 235
    assert np.all(np.diff(row) >= -3)


def test_a_pil_image_and_its_file_are_turned_upright_alike(tmp_path):
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, :10] = 255
    image = Image.fromarray(wide)
    exif = image.getexif()
    exif[0x0112] = 6  # rotated 90 degrees clockwise when shown
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif.tobytes(), quality=100)
    from_file = load_image(path)
    assert from_file.shape == (40, 20, 3)
    with Image.open(path) as opened:
        assert np.array_equal(as_rgb_array(opened), from_file)
    # A mask with the same EXIF orientation fits the upright image.
    assert load_mask(path, (20, 40)).shape == (40, 20)


def test_binary_0_1_masks_are_read_as_masks_and_transparent_ones_select_nothing(tmp_path, soccer):
    image, boy = soccer
    ones = tmp_path / "boy01.png"
    Image.fromarray(boy.astype(np.uint8)).save(ones)
    assert np.array_equal(load_mask(ones), boy)
    clear = tmp_path / "clear.png"
    Image.new("RGBA", (512, 512), (255, 255, 255, 0)).save(clear)
    assert not load_mask(clear).any()
    with pytest.raises(MaskError, match="mask for 'boy' selects nothing"):
        layeredit.edit(image, "move the boy left", masks={"boy": clear})
    cutout = tmp_path / "cutout.png"
    Image.fromarray(np.dstack([image, boy.astype(np.uint8) * 255])).save(cutout)
    assert np.array_equal(load_mask(cutout), boy)  # a cut-out's alpha is its mask


def test_transparency_moves_with_the_object():
    pixels = np.zeros((64, 64, 4), np.uint8)
    pixels[20:40, 10:30] = [255, 0, 0, 255]  # an opaque square on a transparent canvas
    result = layeredit.edit(Image.fromarray(pixels, "RGBA"), "move the square right by 20 pixels",
                            boxes={"square": (10, 20, 30, 40)})  # fmt: skip
    alpha = result.image[..., 3]
    assert result.image.shape == (64, 64, 4)
    assert alpha[30, 15] == 0 and alpha[30, 45] == 255 and alpha[5, 5] == 0
    assert abs(int((alpha > 127).sum()) - 400) < 40


# -- the pixel budget --------------------------------------------------------------------------------


def test_a_huge_image_is_refused_from_its_header(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_claiming_size(30000, 30000))
    with pytest.raises(BudgetError, match=r"900000000 pixels.*LAYEREDIT_MAX_PIXELS"):
        open_image(bomb)
    bomb.write_bytes(png_claiming_size(12000, 5000))  # over the budget, under PIL's bomb limit
    with pytest.raises(BudgetError, match=r"12000x5000 \(60 megapixels\).*LAYEREDIT_MAX_PIXELS"):
        open_image(bomb)
    code, _, err = run_cli("edit", bomb, "remove the boy", "--box", "boy=0,0,10,10", "-o", tmp_path / "o.png")
    assert code == 2 and "LAYEREDIT_MAX_PIXELS" in err and "internal" not in err


def test_the_budget_is_one_setting_for_paths_pil_images_and_arrays(monkeypatch):
    monkeypatch.setenv("LAYEREDIT_MAX_PIXELS", "10000")
    for image in (SOCCER, Image.open(SOCCER), np.zeros((512, 512, 3), np.uint8)):
        with pytest.raises(BudgetError, match="512x512"):
            layeredit.edit(image, "remove the boy", masks={"boy": BOY})
    monkeypatch.setenv("LAYEREDIT_MAX_PIXELS", "lots")
    with pytest.raises(BudgetError, match="LAYEREDIT_MAX_PIXELS must be a number"):
        load_image(SOCCER)


def test_plan_errors_from_the_cli_batch_mode_are_json_lines():
    code, out, _ = run_cli("plan", "-", stdin="flurb " * 3000 + "\n")
    assert code == 0 and len(json.loads(out)["error"]) < 600


def test_inputs_are_untouched(tmp_path):
    before = Path(SOCCER).read_bytes(), Path(BOY).read_bytes()
    run_cli("edit", SOCCER, "move the boy left", "--mask", f"boy={BOY}", "-o", tmp_path / "o.png")
    assert (Path(SOCCER).read_bytes(), Path(BOY).read_bytes()) == before
