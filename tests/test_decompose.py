"""decompose → edit the layers in a PSD with psd-tools → compose, on both engines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from psd_tools import PSDImage

from layeredit.engine.designedit import DesignEditConfig, DesignEditEngine
from layeredit.errors import InputError
from layeredit.layered import compose, decompose, scene_changes, unknown_layers
from layeredit.layerfile import SceneFileError, read_scene
from layeredit.tools.masks import centroid, dilate, shift
from tests.tiny_models import save_tiny_sdxl

SHIFT = -64  # px; two latent pixels of the tiny model at 512 px, so both engines can land it exactly
PLAYER_BOX = (30, 240, 100, 378)  # the small player on the left of the soccer photo


@pytest.fixture(scope="module")
def soccer_psd(soccer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    image, boy = soccer
    path = tmp_path_factory.mktemp("layers") / "soccer.psd"
    decompose(image, masks={"boy": boy}, boxes={"player": PLAYER_BOX}).save(path)
    return path


def _moved_and_deleted(psd: Path, folder: Path) -> Path:
    """The user's edit in a design tool: the boy dragged left, the player's layer deleted."""
    document = PSDImage.open(psd)
    layers = {layer.name: layer for layer in document}
    layers["boy"].offset = (layers["boy"].left + SHIFT, layers["boy"].top)
    document.remove(layers["player"])
    edited = folder / "edited.psd"
    document.save(edited)
    return edited


def _check_round_trip(composed, image: np.ndarray, boy: np.ndarray) -> None:
    plan = composed.plan
    assert [op.op for op in plan.operations] == ["remove", "move"]
    assert abs(plan.operations[1].dx * image.shape[1] - SHIFT) <= 2 and plan.operations[1].dy == 0
    player = np.zeros(boy.shape, bool)
    player[PLAYER_BOX[1] : PLAYER_BOX[3], PLAYER_BOX[0] : PLAYER_BOX[2]] = True
    away = ~dilate(boy | shift(boy, SHIFT, 0) | player, 40)
    assert np.array_equal(composed.image[away], image[away])
    # The boy's layer sits at the offset within 2 px.
    scene = composed.result.scene
    grown = shift(dilate(boy, scene.px(scene.params.object_dilation)), SHIFT, 0)
    alpha = {layer.name: layer.rgba[..., 3] for layer in composed.result.layers}["boy"] > 127
    (x, y), (gx, gy) = centroid(alpha), centroid(grown)
    assert abs(x - gx) <= 2 and abs(y - gy) <= 2

def test_decompose_writes_plate_and_objects_with_soft_edges(soccer, soccer_psd: Path) -> None:
    image, boy = soccer
    scene = read_scene(soccer_psd)
    assert [layer.name for layer in scene.layers] == ["background", "player", "boy"]
    assert np.array_equal(scene.original, image)
    boy_layer = scene.layer("boy")
    alpha = np.zeros(boy.shape, np.uint8)
    left, top, right, bottom = boy_layer.box
    alpha[top:bottom, left:right] = boy_layer.rgba[..., 3]
    assert ((alpha > 0) & (alpha < 255)).sum() > 500  # matted hair and outline
    assert (alpha[~dilate(boy, 20)] == 0).all()
    plate = scene.layer("background").rgba[..., :3]
    assert np.abs(plate[boy].astype(int) - image[boy]).mean() > 10  # the boy is painted out
    assert scene_changes(scene)[0] is None  # nothing moved yet


def test_round_trip_on_the_pixel_engine(soccer, soccer_psd: Path, tmp_path: Path) -> None:
    image, boy = soccer
    composed = compose(_moved_and_deleted(soccer_psd, tmp_path))
    _check_round_trip(composed, image, boy)
    # The boy's own pixels land at the offset: search the shift that matches them best.
    core = ~dilate(~boy, 6)
    errors = {
        s: np.abs(composed.image[shift(core, s, 0)].astype(int) - image[core]).mean() for s in range(-72, -55)
    }
    assert abs(min(errors, key=errors.get) - SHIFT) <= 2 and min(errors.values()) < 1.0
    # The player is gone: its place now looks like the plate, not like the player.
    player = (slice(PLAYER_BOX[1], PLAYER_BOX[3]), slice(PLAYER_BOX[0], PLAYER_BOX[2]))
    assert np.abs(composed.image[player].astype(int) - image[player]).mean() > 10


def test_round_trip_on_the_diffusion_engine(soccer, soccer_psd: Path, tmp_path: Path) -> None:
    image, boy = soccer
    model = save_tiny_sdxl(tmp_path / "tiny-sdxl")
    engine = DesignEditEngine.from_pretrained(
        str(model), device="cpu", config=DesignEditConfig(steps=5, resolution=64, progress_bar=False)
    )
    composed = compose(_moved_and_deleted(soccer_psd, tmp_path), engine=engine)
    _check_round_trip(composed, image, boy)
    assert composed.result.stats["model"] == str(model)


def test_folder_scene_json_edits_compose_like_a_document(soccer, tmp_path: Path) -> None:
    image, boy = soccer
    folder = tmp_path / "scene"
    decompose(image, masks={"boy": boy}, boxes={"player": PLAYER_BOX}, soft_edges=False).save(folder)
    scene_file = folder / "scene.json"
    data = json.loads(scene_file.read_text())
    for layer in data["layers"]:
        if layer["name"] == "boy":  # twice as large about the box centre, then sent behind the player
            left, top, right, bottom = layer["box"]
            w, h = right - left, bottom - top
            layer["box"] = [left - w // 2, top - h // 2, right + w - w // 2, bottom + h - h // 2]
            layer["z"] = 0.5
    scene_file.write_text(json.dumps(data))
    plan, _ = scene_changes(read_scene(folder))
    ops = [(op.op, op.target.phrase) for op in plan.operations]
    assert ops == [("resize", "boy"), ("move", "boy"), ("reorder", "boy"), ("reorder", "player")]
    assert abs(plan.operations[0].scale - 2.0) < 0.02


def test_unreadable_scenes_fail_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(SceneFileError, match="not found"):
        read_scene(tmp_path / "missing.psd")
    (tmp_path / "plain").mkdir()
    with pytest.raises(SceneFileError, match="no scene.json"):
        read_scene(tmp_path / "plain")
    bare = PSDImage.new("RGBA", (8, 8))
    bare.save(tmp_path / "bare.psd")
    with pytest.raises(SceneFileError, match="no layeredit scene record"):
        read_scene(tmp_path / "bare.psd")


def test_a_renamed_layer_counts_as_deleted_and_is_reported(soccer_psd: Path) -> None:
    scene = read_scene(soccer_psd)
    scene.layer("player").name = "runner"
    plan, _ = scene_changes(scene)
    assert plan.summary() == "remove player"
    assert unknown_layers(scene) == ["runner"]


def test_saving_replaces_an_existing_file_or_filled_folder_only_when_asked(soccer, tmp_path):
    image, _ = soccer
    document = decompose(image, boxes={"player": PLAYER_BOX}, soft_edges=False)
    taken, folder = tmp_path / "taken.psd", tmp_path / "layers"
    taken.write_bytes(b"someone's design")
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    for place in (taken, folder):
        with pytest.raises(InputError, match="ask to overwrite it"):
            document.save(place)
    assert taken.read_bytes() == b"someone's design" and (folder / "notes.txt").read_text() == "mine"
    document.save(taken, overwrite=True)
    assert read_scene(taken).record.size == (image.shape[1], image.shape[0])
