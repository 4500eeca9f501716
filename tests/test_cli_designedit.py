"""`layeredit edit --engine designedit --model DIR` end to end, loading a saved model by path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from layeredit.imageio import load_image
from tests.conftest import SAMPLES, example
from tests.test_cli import layeredit
from tests.tiny_models import save_tiny_sd15, save_tiny_sdxl

FAST = ["--steps", "4", "--resolution", "64", "--no-progress-bar", "--device", "cpu"]
PIKACHU = SAMPLES / "pikachu"


@pytest.fixture(scope="module")
def sdxl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl")


def plan_text(*operations: dict) -> str:
    return json.dumps({"operations": list(operations)})


def target(phrase: str) -> dict:
    return {"phrase": phrase}


# Every op of the plan, in three runs (each run loads torch and the model: keep their number low).
RUNS = {
    "object-ops": [
        {"op": "move", "target": target("apple"), "dx": -0.1, "dy": 0.05},
        {"op": "resize", "target": target("sunglasses"), "scale": 1.3},
        {"op": "flip", "target": target("sunglasses"), "axis": "vertical"},
        {"op": "duplicate", "target": target("apple"), "dx": 0.2},
    ],
    "layer-ops": [
        {"op": "remove", "target": target("sunglasses")},
        {"op": "swap", "target": target("apple"), "other": target("pikachu")},
        {"op": "reorder", "target": target("apple"), "position": "back"},
    ],
    "camera-ops": [
        {
            "op": "insert",
            "source": "OTHER",
            "target": target("text"),
            "scale": 0.5,
            "to": {"x": 0.3, "y": 0.8},
        },
        {"op": "pan", "dx": 0.1},
        {"op": "zoom_out", "scale": 0.8},
    ],
}


@pytest.mark.parametrize("run", list(RUNS))
def test_every_op_through_the_command_line(sdxl, tmp_path, run):
    operations = json.loads(json.dumps(RUNS[run]).replace("OTHER", str(example("layer/03_text/01.jpg"))))
    masks = [f"{name}={PIKACHU / f'{name}.jpg'}" for name in ("sunglasses", "apple", "pikachu")]
    if run == "camera-ops":
        masks = [f"text={example('layer/03_text/mask1.jpg')}"]  # the inserted object's mask
    elif run == "object-ops":
        masks = masks[:2]
    out = tmp_path / "out.png"
    args = ["edit", PIKACHU / "image.jpg", plan_text(*operations), "-o", out, "--engine", "designedit"]
    args += ["--model", sdxl, *FAST]
    for mask in masks:
        args += ["--mask", mask]
    done = layeredit(*args)
    assert done.returncode == 0, done.stderr
    edited, source = load_image(out), load_image(PIKACHU / "image.jpg")
    assert edited.shape == source.shape
    assert (edited != source).any()


def test_refine_mask_and_no_preserve_on_a_non_square_sd15_image(tmp_path):
    model = save_tiny_sd15(tmp_path / "tiny-sd15")
    folder = example("remove/03_ball")
    refine = tmp_path / "refine.png"
    Image.fromarray(np.pad(np.full((40, 320), 255, np.uint8), ((0, 472), (0, 0)))).save(refine)
    out = tmp_path / "out.png"
    done = layeredit(
        "edit", folder / "0.jpg", "remove the ball", "--mask", f"ball={folder / 'mask0.jpg'}", "-o", out,
        "--engine", "designedit", "--model", model, "--refine-mask", refine, "--no-preserve", *FAST,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    edited, source = load_image(out), load_image(folder / "0.jpg")
    assert edited.shape == source.shape == (512, 320, 3)
    # Without preservation the VAE round trip touches every part of the picture.
    assert (edited != source).any(axis=-1)[:, :40].mean() > 0.5


def test_chat_takes_the_diffusion_model_device_and_step_options(sdxl, tmp_path):
    done = layeredit(
        "chat", PIKACHU / "image.jpg", "--mask", f"apple={PIKACHU / 'apple.jpg'}", "--session-dir",
        tmp_path / "s", "--engine", "designedit", "--model", sdxl, *FAST,
        stdin="move the apple left\nagain\nquit\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("done: move apple") == 2, done.stdout


def test_missing_model_is_one_clear_line(tmp_path):
    done = layeredit(
        "edit", PIKACHU / "image.jpg", "remove the apple", "--mask", f"apple={PIKACHU / 'apple.jpg'}",
        "-o", tmp_path / "o.png", "--engine", "designedit", "--model", tmp_path / "no-such-model", *FAST,
    )  # fmt: skip
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: diffusion model") and "--model /path/to/folder" in line
    assert not (tmp_path / "o.png").exists()


def test_missing_hub_model_is_one_line_without_library_warnings(tmp_path):
    # conftest sets HF_HUB_OFFLINE: diffusers fails at once, after its deprecation and hub warnings.
    done = layeredit(
        "edit", PIKACHU / "image.jpg", "remove the apple", "--mask", f"apple={PIKACHU / 'apple.jpg'}",
        "-o", tmp_path / "o.png", "--engine", "designedit", "--model", "nobody/no-such-model", *FAST,
    )  # fmt: skip
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: diffusion model 'nobody/no-such-model'")
    assert "`hf download nobody/no-such-model`" in line


def test_diffusion_options_with_the_pixel_engine_are_refused(tmp_path):
    done = layeredit(
        "edit", PIKACHU / "image.jpg", "remove the apple", "--mask", f"apple={PIKACHU / 'apple.jpg'}",
        "-o", tmp_path / "o.png", "--steps", "10",
    )  # fmt: skip
    assert done.returncode == 2
    assert "--steps only apply to --engine designedit" in done.stderr
