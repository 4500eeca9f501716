"""The `layeredit` command end to end, in a subprocess, as a user runs it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from layeredit.imageio import load_image
from layeredit.plan import EditPlan
from tests.cli_inprocess import run_cli
from tests.conftest import SAMPLES, example

SOCCER = SAMPLES / "soccer" / "image.jpg"
BOY = SAMPLES / "soccer" / "boy.jpg"


def layeredit(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "layeredit.cli", *map(str, args)],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=300,
        env=None if env is None else {**os.environ, **env},
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_edit_writes_a_valid_image_and_leaves_the_input_alone(tmp_path):
    before = digest(SOCCER)
    out = tmp_path / "out.png"
    done = layeredit("edit", SOCCER, "move the boy to the left", "--mask", f"boy={BOY}", "-o", out)
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stderr and "move boy" in done.stderr
    edited = load_image(out)
    assert edited.shape == load_image(SOCCER).shape
    assert (edited != load_image(SOCCER)).any()
    assert digest(SOCCER) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temporary files left behind


def test_save_layers_writes_rgba_layers_and_the_plan(tmp_path):
    layers = tmp_path / "layers"
    done = layeredit(
        "edit", SOCCER, "make the boy bigger", "--mask", f"boy={BOY}", "-o", tmp_path / "o.jpg",
        "--save-layers", layers,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in layers.iterdir())
    assert names == ["00_background.png", "01_boy.png", "layers.ora", "layers.psd", "plan.json"]
    with Image.open(layers / "01_boy.png") as layer:
        assert layer.mode == "RGBA" and layer.size == (512, 512)
    plan = EditPlan.parse((layers / "plan.json").read_text())
    assert plan.operations[0].op == "resize"


def test_non_square_images_keep_their_size(tmp_path):
    folder = example("remove/03_ball")
    out = tmp_path / "ball.png"
    done = layeredit(
        "edit", folder / "0.jpg", "remove the ball", "--mask", f"ball={folder / 'mask0.jpg'}", "-o", out
    )
    assert done.returncode == 0, done.stderr
    assert load_image(out).shape == (512, 320, 3)


def test_box_works_as_a_mask(tmp_path):
    out = tmp_path / "out.png"
    done = layeredit("edit", SOCCER, "remove the boy", "--box", "boy=180,30,360,480", "-o", out)
    assert done.returncode == 0, done.stderr
    changed = (load_image(out) != load_image(SOCCER)).any(axis=-1)
    assert changed[200:460, 200:340].mean() > 0.5 and not changed[:, :100].any()


def test_plan_only_prints_the_plan(tmp_path):
    done = layeredit("edit", SOCCER, "remove the boy", "--plan-only")
    assert done.returncode == 0, done.stderr
    assert EditPlan.parse(done.stdout).operations[0].op == "remove"


def test_plan_batch_reads_stdin_one_plan_per_line():
    lines = "move the cat 100 pixels up\n\nflurb the zorp\n"
    done = layeredit("plan", "-", "--size", "1000x500", stdin=lines)
    assert done.returncode == 0, done.stderr
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert first["operations"][0]["dy"] == pytest.approx(-0.2)
    assert set(second) == {"error"} and "flurb" in second["error"]


def _corrupt(tmp_path: Path) -> Path:
    path = tmp_path / "corrupt.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    return path


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.png"
    path.touch()
    return path


def _small_mask(tmp_path: Path) -> Path:
    path = tmp_path / "small.png"
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(path)
    return path


@pytest.mark.parametrize(
    "make_args, expected",
    [
        (lambda t: ["edit", t / "nope.jpg", "remove the boy", "--mask", f"boy={BOY}", "-o", t / "o.png"],
         "image not found"),
        (lambda t: ["edit", _corrupt(t), "remove the boy", "--mask", f"boy={BOY}", "-o", t / "o.png"],
         "cannot read"),
        (lambda t: ["edit", SOCCER, "remove the boy", "--mask", f"boy={BOY}", "--mask", f"cat={BOY}",
                    "-o", t / "o.png"], "mask name 'cat' matches no object"),
        (lambda t: ["edit", SOCCER, "remove the boy", "--mask", f"boy={_empty(t)}", "-o", t / "o.png"],
         "mask file is empty (0 bytes)"),
        (lambda t: ["edit", SOCCER, "remove the boy", "--mask", f"boy={_small_mask(t)}", "-o", t / "o.png"],
         "is 64x64 but the image is 512x512"),
        (lambda t: ["edit", SOCCER, "flurb the boy sideways", "--mask", f"boy={BOY}", "-o", t / "o.png"],
         "flurb"),
        (lambda t: ["edit", SOCCER, "remove the lamp", "-o", t / "o.png"], "no mask for 'lamp'"),
        (lambda t: ["edit", SOCCER, "remove the boy", "--mask", f"boy={BOY}", "-o", t / "o.xyz"],
         "cannot tell the image format"),
        (lambda t: ["edit", SOCCER, "remove the boy", "--mask", f"boy={t / 'none.png'}", "-o", t / "o.png"],
         "mask file not found"),
        (lambda t: ["edit", SOCCER, "remove the boy", "--box", "boy=610,80,760,420", "-o", t / "o.png"],
         "box for 'boy' (610, 80, 760, 420) lies outside the 512x512 image"),
        (lambda t: ["edit", SOCCER, '{"operations": [{"op": "zoom_out", "scale": 3}]}', "-o", t / "o.png"],
         "invalid edit plan: operations.0.zoom_out.scale"),
    ],
    ids=["missing-image", "corrupt-image", "unknown-mask-name", "empty-mask", "wrong-size-mask",
         "unparseable", "missing-target-mask", "bad-output-format", "missing-mask", "box-outside",
         "bad-plan-json"],
)  # fmt: skip
def test_bad_input_gets_one_clear_line(tmp_path, make_args, expected):
    done = layeredit(*make_args(tmp_path))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and expected in lines[0]
    assert not (tmp_path / "o.png").exists()


def test_debug_variable_adds_the_traceback_to_a_user_error(tmp_path):
    args = ["edit", tmp_path / "nope.jpg", "remove the boy", "--mask", f"boy={BOY}", "-o", tmp_path / "o.png"]
    done = layeredit(*args, env={"LAYEREDIT_DEBUG": "1"})
    assert done.returncode == 2
    assert done.stderr.startswith("Traceback") and "layeredit/imageio.py" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: image not found")


def _refused_in_one_line(code: int, err: str, expected: str) -> None:
    assert code == 2 and "Traceback" not in err, err
    assert err.strip().splitlines() == [err.strip()] and expected in err, err


@pytest.mark.parametrize("which", ["image", "mask", "refine-mask"])
def test_edit_never_writes_over_one_of_its_inputs_even_with_overwrite(tmp_path, which):
    photo, boy = tmp_path / "photo.png", tmp_path / "boy.png"
    Image.open(SOCCER).save(photo)
    Image.open(BOY).save(boy)
    refine = tmp_path / "refine.png"
    Image.open(BOY).save(refine)
    before = {path: digest(path) for path in (photo, boy, refine)}
    target = {"image": photo, "mask": boy, "refine-mask": refine}[which]
    args = ["edit", photo, "remove the boy", "--mask", f"boy={boy}", "--refine-mask", refine]
    code, _, err = run_cli(*args, "-o", target, "--overwrite")
    _refused_in_one_line(code, err, "is an input of this edit; write the result elsewhere")
    assert {path: digest(path) for path in before} == before


def test_edit_replaces_an_existing_output_only_when_asked(tmp_path):
    output = tmp_path / "out.png"
    output.write_bytes(b"the user's own file")
    args = ["edit", SOCCER, "remove the boy", "--mask", f"boy={BOY}", "-o", output]
    code, _, err = run_cli(*args)
    _refused_in_one_line(code, err, "already exists; choose another name or ask to overwrite it")
    assert output.read_bytes() == b"the user's own file"
    code, _, err = run_cli(*args, "--overwrite")
    assert code == 0, err
    assert load_image(output).shape == load_image(SOCCER).shape


def test_edit_saves_layers_only_into_a_new_or_empty_folder_without_an_input(tmp_path):
    photo = tmp_path / "photo.png"
    Image.open(SOCCER).save(photo)
    kept = tmp_path / "layers" / "notes.txt"
    kept.parent.mkdir()
    kept.write_text("mine")
    base = ["edit", photo, "remove the boy", "--mask", f"boy={BOY}", "-o", tmp_path / "out.png"]
    code, _, err = run_cli(*base, "--save-layers", tmp_path, "--overwrite")
    _refused_in_one_line(code, err, "holds an input of this edit; write the layers to a new folder")
    code, _, err = run_cli(*base, "--save-layers", kept.parent)
    _refused_in_one_line(code, err, "is not empty; choose a new folder or ask to overwrite it")
    assert not (tmp_path / "out.png").exists() and kept.read_text() == "mine"


def test_segment_writes_its_masks_only_into_a_folder_without_its_image(tmp_path):
    photo = tmp_path / "photo.png"
    Image.open(SOCCER).save(photo)
    before = digest(photo)
    code, _, err = run_cli("segment", photo, "--box", "photo=10,10,60,60", "-o", tmp_path, "--overwrite")
    _refused_in_one_line(code, err, "holds an input of this edit")
    assert digest(photo) == before and sorted(tmp_path.iterdir()) == [photo]


