"""Issue 22, Why 1-5: every outside input goes through layeredit.admission.

Each test names the hole it closes: files outside a scene folder, unbounded compose, zip bombs,
outputs replacing files nobody asked to replace, malformed scenes ending in internal errors,
non-Latin-1 names, one bad batch line stopping the batch, odd chat answers, colliding file names.
"""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from layeredit import edit
from layeredit.admission.archives import ArchiveLimits, open_archive
from layeredit.admission.names import content_disposition, safe_stem
from layeredit.admission.roots import FileScope
from layeredit.agent.questions import Choice, Question
from layeredit.batch.jobs import RunSettings
from layeredit.batch.run import Batch
from layeredit.engine.base import RenderedLayer
from layeredit.errors import BudgetError, InputError, LayereditError, ScopeError
from layeredit.export import psd_bytes
from layeredit.imageio import STALE_SECONDS, save_image, write_atomically
from layeredit.integrations import agent_tools
from layeredit.integrations.agent_tools import DecomposeImageArgs
from layeredit.layered import compose, decompose
from layeredit.layerfile import (
    FoundObject,
    SceneFileError,
    SceneRecord,
    document_bytes,
    read_scene,
    read_scene_bytes,
    write_scene,
)
from layeredit.server import create_app
from tests.cli_inprocess import run_cli
from tests.hostile.generate import zipped

SIZE = (48, 32)  # width, height
BALL = (10, 8, 22, 20)


def picture(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8)


def scene_parts() -> tuple[np.ndarray, list[RenderedLayer], SceneRecord]:
    original = picture()
    plate = np.dstack([original, np.full(original.shape[:2], 255, np.uint8)])
    ball = np.zeros_like(plate)
    left, top, right, bottom = BALL
    ball[top:bottom, left:right] = plate[top:bottom, left:right]
    layers = [RenderedLayer("background", plate), RenderedLayer("ball", ball)]
    return original, layers, SceneRecord(size=SIZE, found=[FoundObject("ball", BALL, "box")])


def write_folder(folder: Path) -> Path:
    write_scene(folder, *scene_parts())
    return folder


def ora_bytes_of(parts: tuple = ()) -> bytes:
    return document_bytes("ora", *(parts or scene_parts()))


def rewrite_scene_json(folder: Path, change) -> None:
    path = folder / "scene.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def dry_run(folder: Path, lines: list[str], out: Path) -> tuple[Batch, dict[int, str]]:
    """The batch of a manifest of ``lines`` in ``folder``, and its lines' problems by number."""
    manifest = folder / "m.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    batch = Batch.from_manifest(manifest, out, RunSettings())
    return batch, {failure.line: failure.error for failure in batch.invalid}


def ora_with(stack_layer: str | None = None, drop: str | None = None, extra: dict | None = None) -> bytes:
    """The scene's ORA with the ball's ``<layer>`` replaced, an entry dropped, or entries added."""
    with zipfile.ZipFile(io.BytesIO(ora_bytes_of())) as archive:
        entries = {name: archive.read(name) for name in archive.namelist() if name != drop}
    if stack_layer is not None:
        stack = entries["stack.xml"].decode()
        start = stack.index('<layer name="ball"')
        end = stack.index("/>", start) + 2
        entries["stack.xml"] = stack[:start] + stack_layer + stack[end:]
    entries.update(extra or {})
    return zipped(entries)


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as test_client:
        yield test_client


# -- Why 1: compose opens only the scene's own files ----------------------------------------------


def test_scene_json_naming_a_file_outside_its_folder_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    save_image(picture(seed=7), secret)  # the same size as the scene, so reading it would "work"
    folder = write_folder(tmp_path / "scene")
    for given in (str(secret), "../secret.png"):
        rewrite_scene_json(folder, lambda data, given=given: data.update(original=given))
        with pytest.raises(LayereditError, match="original: .*inside the scene's folder") as caught:
            compose(folder)
        assert "exist" not in str(caught.value) and "not found" not in str(caught.value)


def test_a_link_out_of_the_scene_folder_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    save_image(picture(seed=7), secret)
    folder = write_folder(tmp_path / "scene")
    (folder / "original.png").unlink()
    (folder / "original.png").symlink_to(secret)
    with pytest.raises(ScopeError, match="links outside the scene's folder"):
        read_scene(folder)


def test_cli_compose_refuses_a_scene_reaching_outside(tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    save_image(picture(seed=7), secret)
    folder = write_folder(tmp_path / "scene")
    rewrite_scene_json(folder, lambda data: data.update(original="../secret.png"))
    code, _, err = run_cli("compose", folder, "-o", tmp_path / "out.png")
    assert code != 0 and "inside the scene's folder" in err and "internal error" not in err
    assert not (tmp_path / "out.png").exists()


def test_rest_compose_never_returns_a_server_file_nor_names_server_paths(client, tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    save_image(picture(seed=7), secret)
    folder = write_folder(tmp_path / "scene")
    for given in (str(secret), "../../../../../../.." + str(secret)):
        rewrite_scene_json(folder, lambda data, given=given: data.update(original=given))
        upload = zipped({p.name: p.read_bytes() for p in folder.iterdir()})
        answer = client.post("/v1/compose", files=[("scene", ("s.zip", upload, "application/zip"))])
        assert answer.status_code == 422 and "image" not in answer.json()
        assert "exist" not in answer.text and "not found" not in answer.text
    for name, data in (("x.psd", b"8BPS garbage"), ("x.ora", b"PK garbage"), ("x.zip", zipped({"a": "b"}))):
        answer = client.post("/v1/compose", files=[("scene", (name, data, "application/octet-stream"))])
        assert answer.status_code == 422 and "/tmp" not in answer.text and "layeredit-" not in answer.text


# -- Why 2: compose has a budget, archives are not unpacked without limits --------------------------


def test_a_huge_layer_box_is_refused_before_any_pixel_is_made(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "scene")

    def huge(data: dict) -> None:
        data["layers"][1]["box"] = [0, 0, 30000, 30000]

    rewrite_scene_json(folder, huge)
    with pytest.raises(BudgetError, match="30000x30000"):
        compose(folder)


@pytest.mark.parametrize("side", [10000, 100000])
def test_declared_canvas_sizes_are_held_to_the_budget(side: int) -> None:
    record = SceneRecord(size=(side, side), found=[FoundObject("ball", BALL, "box")])
    data = ora_with(extra={"layeredit/scene.json": record.to_json()})
    with pytest.raises(BudgetError, match=f"{side}x{side}"):
        read_scene_bytes(data, "big.ora", max_pixels=4096 * 4096)
    psd = bytearray(document_bytes("psd", *scene_parts()))
    psd[14:22] = side.to_bytes(4, "big") * 2  # the header's height and width
    with pytest.raises((BudgetError, SceneFileError)):
        read_scene_bytes(bytes(psd), "big.psd", max_pixels=4096 * 4096)


def test_rest_compose_of_a_big_declared_canvas_is_413(client) -> None:
    record = SceneRecord(size=(10000, 10000), found=[FoundObject("ball", BALL, "box")])
    data = ora_with(extra={"layeredit/scene.json": record.to_json()})
    answer = client.post("/v1/compose", files=[("scene", ("big.ora", data, "image/openraster"))])
    assert answer.status_code == 413 and "10000x10000" in answer.text


def test_a_zip_bomb_is_refused_from_its_directory(client) -> None:
    bomb = zipped({"scene.json": "{}", "data/zeros.png": b"\0" * (64 * 2**20)})
    assert len(bomb) < 2**20
    with pytest.raises(InputError, match="unpacks to"):
        open_archive(bomb, "bomb.zip", ArchiveLimits(max_member_bytes=2**20))
    answer = client.post("/v1/compose", files=[("scene", ("bomb.zip", bomb, "application/zip"))])
    assert answer.status_code == 422 and "unpacks to" in answer.text


def test_archives_with_links_or_climbing_names_are_refused() -> None:
    with pytest.raises(ScopeError):
        open_archive(zipped({"../evil.png": b"x"}), "evil.zip")
    info = zipfile.ZipInfo("link")
    info.external_attr = 0o120777 << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(ScopeError, match="link"):
        open_archive(buffer.getvalue(), "links.zip")


# -- Why 3: nothing replaced without asking, never an input ------------------------------------------


def test_cli_decompose_never_replaces_without_overwrite_nor_writes_over_its_input(tmp_path: Path) -> None:
    image = tmp_path / "original.png"
    save_image(picture(), image)
    before = image.read_bytes()
    box = ["--box", "ball=10,8,22,20", "--hard-edges"]
    code, _, err = run_cli("decompose", image, "-o", tmp_path, *box)
    assert code != 0 and "holds an input" in err
    code, _, err = run_cli("decompose", image, "-o", tmp_path, "--overwrite", *box)
    assert code != 0 and "holds an input" in err and image.read_bytes() == before
    (tmp_path / "taken.psd").write_bytes(b"mine")
    code, _, err = run_cli("decompose", image, "-o", tmp_path / "taken.psd", *box)
    assert code != 0 and "already exists" in err and (tmp_path / "taken.psd").read_bytes() == b"mine"


def test_cli_compose_never_writes_over_the_scene(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "scene")
    before = (folder / "original.png").read_bytes()
    code, _, err = run_cli("compose", folder, "-o", folder / "original.png", "--overwrite")
    assert code != 0 and "is an input" in err and (folder / "original.png").read_bytes() == before


def test_mcp_decompose_keeps_existing_files_and_the_users_picture(tmp_path: Path) -> None:
    image = tmp_path / "original.png"
    save_image(picture(), image)
    before = image.read_bytes()
    (tmp_path / "original.layers.psd").write_bytes(b"mine")
    scope = FileScope(tmp_path)
    for output, overwrite in ((None, False), (".", False), (".", True)):
        args = DecomposeImageArgs(image_path="original.png", output_path=output,
                                  boxes={"ball": list(BALL)}, overwrite=overwrite)  # fmt: skip
        with pytest.raises(InputError):
            agent_tools.decompose_image(args, scope=scope)
    assert image.read_bytes() == before and (tmp_path / "original.layers.psd").read_bytes() == b"mine"


def test_batch_outputs_are_compared_by_where_they_land_and_never_replace_inputs(tmp_path: Path) -> None:
    save_image(picture(), tmp_path / "a.png")
    (tmp_path / "sub").mkdir()
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (tmp_path / "sub" / "away").symlink_to(outside)
    plan = '"plan": {"operations": [{"op": "remove", "target": {"phrase": "ball"}}]}'
    plan += ', "boxes": {"ball": [1, 1, 9, 9]}'
    lines = [
        f'{{"image": "a.png", {plan}, "output": "a.png"}}',
        f'{{"image": "a.png", {plan}, "output": "sub/b.png"}}',
        f'{{"image": "a.png", {plan}, "output": "sub//b.png"}}',
        f'{{"image": "a.png", {plan}, "output": "./sub/b.png"}}',
        f'{{"image": "a.png", {plan}, "output": "sub/away/c.png"}}',
    ]
    batch, found = dry_run(tmp_path, lines, tmp_path)
    assert "is an input" in found[1]
    assert found[3] == "output 'sub//b.png' is also written by line 2"
    assert found[4] == "output './sub/b.png' is also written by line 2"
    assert "leads outside" in found[5]
    assert [job.line for job in batch.jobs] == [2]


def test_chat_save_asks_before_replacing(tmp_path: Path) -> None:
    from layeredit.agent import RulePlanner
    from layeredit.agent.chat import ChatSession
    from layeredit.engine.pixel import PixelEngine

    image = tmp_path / "photo.png"
    save_image(picture(), image)
    (tmp_path / "taken.png").write_bytes(b"mine")
    session = ChatSession.start(image, tmp_path / "session", RulePlanner(), PixelEngine())
    session.scope = FileScope(tmp_path)
    with pytest.raises(InputError, match="already exists"):
        session.handle("save taken.png")
    assert (tmp_path / "taken.png").read_bytes() == b"mine"
    assert session.handle("save --overwrite taken.png").startswith("saved")
    assert Image.open(tmp_path / "taken.png").size == SIZE


def test_temporary_files_left_by_a_killed_write_are_cleared(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    old = tmp_path / ".out.png.abc123.tmp"
    fresh = tmp_path / ".out.png.def456.tmp"
    old.write_bytes(b"half")
    fresh.write_bytes(b"being written")
    long_ago = time.time() - STALE_SECONDS - 10
    os.utime(old, (long_ago, long_ago))
    write_atomically(target, lambda handle: handle.write(b"done"))
    assert not old.exists() and fresh.exists() and target.read_bytes() == b"done"


# -- Why 4: malformed scenes are one clear line ------------------------------------------------------


def _scene_json_cases() -> dict[str, object]:
    def layer(**change):
        def apply(data):
            data["layers"][1].update(change)

        return apply

    return {
        "layer file missing name": layer(file=""),
        "layer file absolute": layer(file="/etc/passwd"),
        "layer file climbs": layer(file="../x.png"),
        "box with inf": layer(box=[0, 0, float("inf"), 5]),
        "box as text": layer(box="big"),
        "empty box": layer(box=[5, 5, 5, 9]),
        "negative size": layer(box=[9, 9, 5, 5]),
        "z is nan": layer(z=float("nan")),
        "found box outside the canvas": lambda d: d["found"][0].update(box=[40, 20, 90, 90]),
        "size zero": lambda d: d.update(size=[0, 32]),
        "size negative": lambda d: d.update(size=[-48, 32]),
        "duplicate layer names": lambda d: d["layers"][0].update(name="ball"),
        "duplicate objects": lambda d: d["found"].append(d["found"][0]),
        "found is not a list": lambda d: d.update(found=None),
    }


@pytest.mark.parametrize("case", list(_scene_json_cases()))
def test_a_malformed_scene_json_is_one_clear_error(tmp_path: Path, case: str) -> None:
    folder = write_folder(tmp_path / "scene")
    rewrite_scene_json(folder, _scene_json_cases()[case])
    with pytest.raises(LayereditError) as caught:
        compose(folder)
    assert "scene.json" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        b"[]",
        b"null",
        b"\xff\xfe not utf-8",
        b"[" * 5000 + b"]" * 5000,
        b'{"size": [' + b"9" * 5000 + b", 1]}",
    ],
    ids=["list", "null", "not-utf8", "deep", "digits"],
)
def test_scene_json_that_is_not_a_scene_is_one_clear_error(tmp_path: Path, text: bytes) -> None:
    folder = write_folder(tmp_path / "scene")
    (folder / "scene.json").write_bytes(text)
    with pytest.raises(SceneFileError, match="scene.json"):
        read_scene(folder)


def _bomb_png() -> bytes:
    image = Image.new("1", (20000, 20000))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "change",
    [
        {"stack_layer": '<layer name="ball" x="0" y="0"/>'},
        {"stack_layer": '<layer name="ball" src="/etc/passwd"/>'},
        {"stack_layer": '<layer name="ball" src="../x.png"/>'},
        {"stack_layer": '<layer name="ball" src="data/missing.png"/>'},
        {"stack_layer": '<layer name="ball" src="data/01_background.png" x="inf"/>'},
        {"stack_layer": '<layer name="ball" src="data/01_background.png" y="nan"/>'},
        {"stack_layer": '<layer name="ball" src="data/01_background.png" x="left"/>'},
        {"stack_layer": '<layer name="background" src="data/01_background.png"/>'},
        {"stack_layer": '<layer name="ball" src="bomb.png"/>', "extra": {"bomb.png": _bomb_png()}},
        {"drop": "stack.xml"},
        {"extra": {"stack.xml": "<image w='48' h='32'><stack><layer"}},
        {"extra": {"layeredit/scene.json": "[1, 2]"}},
    ],
    ids=[
        "no-src",
        "abs-src",
        "dotdot-src",
        "missing-src",
        "x-inf",
        "y-nan",
        "x-text",
        "duplicate",
        "bomb-layer",
        "no-stack",
        "broken-xml",
        "record-list",
    ],  # fmt: skip
)
def test_a_malformed_ora_is_one_clear_error(change: dict) -> None:
    with pytest.raises(LayereditError) as caught:
        compose(read_scene_bytes(ora_with(**change), "edited.ora"))
    assert "\n" not in str(caught.value)


def test_a_garbage_psd_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x.psd").write_bytes(b"8BPS\0\1" + bytes(range(256)) * 4)
    with pytest.raises(SceneFileError, match="not a readable Photoshop document"):
        compose(tmp_path / "x.psd")


def test_api_calls_with_wrong_types_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="instruction must be text"):
        edit(picture(), None)  # type: ignore[arg-type]
    with pytest.raises(SceneFileError, match="not found"):
        compose(tmp_path / "missing.ora")


# -- non-Latin-1 names and colliding names ------------------------------------------------------------


def test_psd_keeps_names_beyond_latin_1(tmp_path: Path) -> None:
    original, layers, _ = scene_parts()
    layers[1] = RenderedLayer("球", layers[1].rgba)
    record = SceneRecord(size=SIZE, found=[FoundObject("球", BALL, "box")])
    data = psd_bytes(layers, scene_json=record.to_json())
    assert data[:4] == b"8BPS"
    scene = read_scene_bytes(document_bytes("psd", original, layers, record), "猫.psd")
    assert [layer.name for layer in scene.layers] == ["background", "球"]


def test_rest_decompose_of_a_non_latin_1_file_name(client) -> None:
    image = io.BytesIO()
    Image.fromarray(picture()).save(image, format="PNG")
    files = [("image", ("😀猫.png", image.getvalue(), "image/png"))]
    form = {"boxes": json.dumps({"球": list(BALL)}), "soft_edges": "false"}
    answer = client.post("/v1/decompose", files=files, data=form)
    assert answer.status_code == 200, answer.text
    header = answer.headers["content-disposition"]
    assert "filename*=UTF-8''%F0%9F%98%80%E7%8C%AB-layers.psd" in header and header.isascii()
    assert read_scene_bytes(answer.content, "back.psd").layer("球") is not None


def test_object_names_fit_every_layered_format() -> None:
    for name in ("x" * 300, " "):
        with pytest.raises(InputError, match="must have 1 to 200 characters"):
            decompose(picture(), boxes={name: BALL}, soft_edges=False)


def test_names_are_stored_under_distinct_file_names() -> None:
    names = ["red ball", "red_ball", "red-ball", "redball", "Red ball", "球", "😀", "", "a" * 500, "a" * 501]
    stems = [safe_stem(name) for name in names]
    assert len(set(stems)) == len(stems)
    assert all(stem.isascii() and "/" not in stem and len(stem) <= 100 for stem in stems)
    assert content_disposition('a"b.png').startswith('attachment; filename="a_b.png"')


def test_session_masks_of_similar_names_do_not_share_a_file(tmp_path: Path) -> None:
    from layeredit.agent.session import SessionStore, Turn

    store = SessionStore.create(tmp_path / "session")
    first = np.zeros((SIZE[1], SIZE[0]), bool)
    second = first.copy()
    first[:4], second[-4:] = True, True
    store.save([Turn(image=picture(), masks={"red ball": first, "red_ball": second})], 0, written=0)
    masks = store.load().turns[0].masks
    assert masks["red ball"][:4].all() and not masks["red ball"][-4:].any()
    assert masks["red_ball"][-4:].all() and not masks["red_ball"][:4].any()


# -- batch lines and chat answers ---------------------------------------------------------------------


def test_bad_batch_lines_are_recorded_and_the_rest_run(tmp_path: Path) -> None:
    save_image(picture(), tmp_path / "a.png")
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_bomb_png())
    plan = '"plan": {"operations": [{"op": "remove", "target": {"phrase": "ball"}}]}'
    lines = [
        f'{{"image": "bomb.png", {plan}, "boxes": {{"ball": [1, 1, 9, 9]}}}}',
        f'{{"image": "a.png", {plan}, "boxes": {{"ball": [1, 1, Infinity, 9]}}}}',
        f'{{"image": "a.png", {plan}, "boxes": {{"ball": [1, 1, {"9" * 5000}, 9]}}}}',
        f'{{"image": "a.png", {plan}, "boxes": {{"ball": [1, 1, 9, 9]}}}}',
        f'{{"image": "{"a" * 5000}.png", {plan}}}',
    ]
    batch, found = dry_run(tmp_path, lines, tmp_path / "out")
    assert "over the limit" in found[1] or "pixel limit" in found[1]
    assert "finite" in found[2] and "not valid JSON" in found[3]
    assert "image: String should have at most 4096 characters" in found[5]
    assert [job.line for job in batch.jobs] == [4]


@pytest.mark.parametrize("text", ["¹", "٣", "9" * 5000, "0", "3", " 1 "])
def test_chat_answers_that_are_not_a_choice_number(text: str) -> None:
    question = Question("which?", [Choice("first", "remove it"), Choice("second", "remove it")])
    picked = question.answer(text)
    assert picked is (question.choices[0] if text.strip() == "1" else None)


@pytest.mark.parametrize("suffix", ["", ".ora", ".psd"], ids=["folder", "ora", "psd"])
def test_the_layers_of_a_scene_together_are_held_to_eight_times_the_pixel_budget(tmp_path, suffix):
    side, limit = 40, 1600  # every layer covers the canvas: each one exactly at the budget
    original = np.full((side, side, 3), 90, np.uint8)
    opaque = np.dstack([original, np.full((side, side), 255, np.uint8)])
    record = SceneRecord(size=(side, side), found=[])
    layers = [RenderedLayer(name=f"copy {number}", rgba=opaque) for number in range(9)]
    write_scene(tmp_path / f"nine{suffix}", original, layers, record)
    write_scene(tmp_path / f"six{suffix}", original, layers[:6], record)
    with pytest.raises(BudgetError, match="hold more than 8 x 0.0016 megapixels together"):
        read_scene(tmp_path / f"nine{suffix}", max_pixels=limit)
    assert len(read_scene(tmp_path / f"six{suffix}", max_pixels=limit).layers) == 6
