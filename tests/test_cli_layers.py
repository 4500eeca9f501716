"""``layeredit decompose`` and ``layeredit compose`` from the command line."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from skimage import data

from layeredit.imageio import load_image
from tests.test_cli import layeredit
from tests.test_cli_perception import FIND_ANYTHING
from tests.tiny_perception import save_tiny_grounding_dino, save_tiny_sam

SAMPLES = Path(__file__).resolve().parents[1] / "layeredit" / "samples" / "soccer"


def _shift_ora_layer(path: Path, name: str, dx: int) -> None:
    """Move one layer of an OpenRaster file the way GIMP or Krita would: its x in stack.xml."""
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    stack = entries["stack.xml"].decode()
    head, sep, tail = stack.partition(f'name="{name}"')
    x = tail.split('x="', 1)[1].split('"', 1)[0]
    entries["stack.xml"] = (head + sep + tail.replace(f'x="{x}"', f'x="{int(x) + dx}"', 1)).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for filename, content in entries.items():
            archive.writestr(filename, content)


def test_decompose_to_ora_then_compose_a_moved_layer(tmp_path: Path) -> None:
    scene = tmp_path / "soccer.ora"
    done = layeredit(
        "decompose", SAMPLES / "image.jpg", "--mask", f"boy={SAMPLES / 'boy.jpg'}",
        "--box", "player=30,240,100,378", "--hard-edges", "-o", scene,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "background + 2 layers (player, boy)" in done.stderr
    _shift_ora_layer(scene, "boy", -100)
    planned = layeredit("compose", scene, "--plan-only")
    assert planned.returncode == 0, planned.stderr
    operations = json.loads(planned.stdout)["operations"]
    assert operations == [{"op": "move", "target": {"phrase": "boy"}, "dx": -100 / 512, "dy": 0.0}]
    out = tmp_path / "out.png"
    composed = layeredit("compose", scene, "-o", out)
    assert composed.returncode == 0, composed.stderr
    assert "plan: move boy (-0.20, +0.00)" in composed.stderr
    assert load_image(out).shape == (512, 512, 3)


def test_decompose_auto_finds_at_most_max_layers(tmp_path: Path) -> None:
    root = tmp_path / "models"
    grounding, sam = save_tiny_grounding_dino(root / "gdino"), save_tiny_sam(root / "sam")
    photo = tmp_path / "chelsea.png"
    Image.fromarray(data.chelsea()).save(photo)
    out = tmp_path / "cat"
    done = layeredit(
        "decompose", photo, "--auto", "--max-layers", "2", "--hard-edges", "-o", out,
        "--grounding-model", grounding, "--sam-model", sam, *FIND_ANYTHING,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    scene = json.loads((out / "scene.json").read_text())
    assert 1 <= len(scene["found"]) <= 2 and {item["source"] for item in scene["found"]} == {"auto"}
    assert [layer["z"] for layer in scene["layers"]] == list(range(len(scene["found"]) + 1))
    assert all((out / layer["file"]).is_file() for layer in scene["layers"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["decompose", SAMPLES / "image.jpg", "-o", "x.psd"], "no objects to put on layers"),
        (["compose", SAMPLES / "image.jpg", "--plan-only"], "is not a layered file"),
    ],
)
def test_mistakes_end_in_one_clear_line(args: list, message: str, tmp_path: Path) -> None:
    done = layeredit(*args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
