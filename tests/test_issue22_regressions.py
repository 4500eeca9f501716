"""Issue 22, "Why": one regression test per item the outside probe found, through public interfaces.

Every test drives only what the code before the fix (commit d69e20f) also had: the ``layeredit``
command, the REST app, ``layeredit.edit``/``decompose``/``compose``, the MCP server, batch manifests,
chat sessions. Each one fails there on the hole it names and passes now; docs/issue22-regressions.md
keeps the item-by-item record.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import anyio
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from layeredit import edit
from layeredit.errors import LayereditError
from layeredit.layered import compose, decompose
from layeredit.layerfile import read_scene
from layeredit.server import create_app
from tests.cli_inprocess import run_cli
from tests.conftest import SAMPLES
from tests.hostile.generate import png_claiming_size, zipped

SIZE = (48, 32)  # width, height
BALL = (10, 8, 22, 20)
BOX = "ball=10,8,22,20"
REMOVE_BALL = {"operations": [{"op": "remove", "target": {"phrase": "ball"}}]}


def picture(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8)


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(pixels: np.ndarray, path: Path) -> Path:
    path.write_bytes(png(pixels))
    return path


def users_picture(path: Path) -> bytes:
    """The user's own PNG of :func:`picture`, with a note no re-encoding would keep; its bytes."""
    note = PngInfo()
    note.add_text("Comment", "the user's own file")
    buffer = io.BytesIO()
    Image.fromarray(picture()).save(buffer, format="PNG", pnginfo=note)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def scene(path: Path, boxes: dict | None = None) -> Path:
    """The tiny picture decomposed (a ball lifted out, hard edges) into ``path``: folder, .ora or .psd."""
    decompose(picture(), boxes=boxes or {"ball": BALL}, soft_edges=False).save(path)
    return path


def change_scene_json(folder: Path, change: Callable[[dict], object]) -> Path:
    data = json.loads((folder / "scene.json").read_text())
    change(data)
    (folder / "scene.json").write_text(json.dumps(data))
    return folder


def folder_zip(folder: Path) -> bytes:
    return zipped(
        {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    )


def changed_ora(ora: Path, change: Callable[[dict[str, bytes]], object]) -> bytes:
    """The .ora's entries after ``change`` (which edits the name -> bytes dict), zipped again."""
    with zipfile.ZipFile(ora) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    change(entries)
    return zipped(entries)


def ball_layer(entries: dict[str, bytes], layer: str) -> None:
    """Replace the ball's ``<layer .../>`` in stack.xml with ``layer``."""
    stack = entries["stack.xml"].decode()
    start = stack.index('<layer name="ball"')
    end = stack.index("/>", start) + 2
    entries["stack.xml"] = (stack[:start] + layer + stack[end:]).encode()


def declare_canvas(entries: dict[str, bytes], width: int, height: int) -> None:
    """Make an .ora say its canvas is ``width`` x ``height`` (stack.xml and the scene record)."""
    stack = entries["stack.xml"].decode()
    stack = stack.replace(f'w="{SIZE[0]}"', f'w="{width}"').replace(f'h="{SIZE[1]}"', f'h="{height}"')
    entries["stack.xml"] = stack.encode()
    for name in entries:
        if name.endswith("scene.json"):
            record = json.loads(entries[name])
            record["size"] = [width, height]
            entries[name] = json.dumps(record).encode()


def post_scene(client: TestClient, name: str, data: bytes):
    return client.post("/v1/compose", files=[("scene", (name, data, "application/octet-stream"))])


def one_clear_line(call: Callable[[], object]) -> str:
    """The message of the LayereditError ``call`` raises; it must be one line."""
    with pytest.raises(LayereditError) as caught:
        call()
    message = str(caught.value)
    assert message and "\n" not in message
    return message


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as test_client:
        yield test_client


# -- Why 1: a client names a file, the server opens it --------------------------------------------


def test_01_rest_compose_of_an_absolute_original_returns_no_server_file(client, tmp_path: Path) -> None:
    """'POST /v1/compose returns any picture on the server's disk: a scene.json whose "original"
    is an absolute path ... comes back as the composed image, pixel for pixel'."""
    secret = save_png(picture(seed=7), tmp_path / "secret.png")
    folder = change_scene_json(scene(tmp_path / "s"), lambda d: d.update(original=str(secret)))
    answer = post_scene(client, "s.zip", folder_zip(folder))
    assert answer.status_code == 422, answer.text[:200]


def test_02_rest_compose_of_a_dotdot_original_returns_no_server_file(client, tmp_path: Path) -> None:
    """'a scene.json whose "original" is ... a ../../.. path comes back as the composed image'."""
    secret = save_png(picture(seed=7), tmp_path / "secret.png")
    climb = "../" * 30 + str(secret).lstrip("/")
    folder = change_scene_json(scene(tmp_path / "s"), lambda d: d.update(original=climb))
    answer = post_scene(client, "s.zip", folder_zip(folder))
    assert answer.status_code == 422, answer.text[:200]


def test_03_rest_compose_errors_tell_nothing_of_the_servers_disk(client, tmp_path: Path) -> None:
    """'the error text tells whether a path exists and shows server temp paths'."""
    secret = save_png(picture(seed=7), tmp_path / "secret.png")
    answers = []
    for given in (str(secret), str(tmp_path / "nothing-here.png")):
        folder = change_scene_json(
            scene(tmp_path / f"s{len(answers)}"), lambda d, g=given: d.update(original=g)
        )
        answers.append(
            post_scene(client, "s.zip", folder_zip(folder)).text.replace(json.dumps(given)[1:-1], "P")
        )
    assert answers[0] == answers[1]  # an existing and a missing file read the same
    for name, data in (("x.psd", b"8BPS garbage"), ("x.ora", b"PK garbage"), ("x.zip", zipped({"a": "b"}))):
        text = post_scene(client, name, data).text
        assert "/tmp" not in text and str(tmp_path) not in text and "layeredit-" not in text, text


def test_04_cli_compose_does_not_open_paths_out_of_the_scene_folder(tmp_path: Path) -> None:
    """'layeredit compose follows the same paths' (absolute and ../ in scene.json)."""
    secret = save_png(picture(seed=7), tmp_path / "secret.png")
    for number, given in enumerate((str(secret), "../secret.png")):
        folder = change_scene_json(scene(tmp_path / f"s{number}"), lambda d, g=given: d.update(original=g))
        code, _, err = run_cli("compose", folder, "-o", tmp_path / "out.png")
        assert code != 0 and "internal error" not in err, err
        assert not (tmp_path / "out.png").exists()


def test_05_cli_compose_does_not_follow_symlinks_out_of_the_scene_folder(tmp_path: Path) -> None:
    """'layeredit compose follows ... symlinks out of a scene folder'."""
    secret = save_png(picture(seed=7), tmp_path / "secret.png")
    folder = scene(tmp_path / "s")
    (folder / "original.png").unlink()
    (folder / "original.png").symlink_to(secret)
    code, _, err = run_cli("compose", folder, "-o", tmp_path / "out.png")
    assert code != 0 and "internal error" not in err, err
    assert not (tmp_path / "out.png").exists()


# -- Why 2: compose had no budget; archives were unpacked without limits ---------------------------


def test_06_a_30000_square_layer_box_is_refused(tmp_path: Path) -> None:
    """'a layer box of 30000x30000 is accepted (200 after 46 s, 11 GB resident)'."""

    def huge(data: dict) -> None:
        next(layer for layer in data["layers"] if layer["name"] == "ball")["box"] = [0, 0, 30000, 30000]

    folder = change_scene_json(scene(tmp_path / "s"), huge)
    assert "30000" in one_clear_line(lambda: compose(folder))


def test_07_an_ora_declaring_10000_square_is_refused_over_rest(client, tmp_path: Path) -> None:
    """'an ORA ... declaring 10000x10000 passes the 16.8 MP limit'."""
    data = changed_ora(scene(tmp_path / "s.ora"), lambda e: declare_canvas(e, 10000, 10000))
    answer = post_scene(client, "big.ora", data)
    assert answer.status_code == 413, answer.text[:200]


def test_08_a_psd_declaring_10000_square_is_refused_over_rest(client, tmp_path: Path) -> None:
    """'an ... PSD declaring 10000x10000 passes the 16.8 MP limit'."""
    psd = bytearray(scene(tmp_path / "s.psd").read_bytes())
    psd[14:22] = (10000).to_bytes(4, "big") * 2  # the header's height and width
    answer = post_scene(client, "big.psd", bytes(psd))
    assert answer.status_code == 413, answer.text[:200]


def test_09_a_100000_square_canvas_is_a_413_not_a_500(client, tmp_path: Path) -> None:
    """'100000² ends in a 500'."""
    data = changed_ora(scene(tmp_path / "s.ora"), lambda e: declare_canvas(e, 100000, 100000))
    answer = post_scene(client, "huge.ora", data)
    assert answer.status_code == 413, answer.text[:200]


def test_10_a_zip_bomb_is_not_unpacked(client, tmp_path: Path) -> None:
    """'Zip bomb: the uploaded archive is extracted with no size limit (a 2 MB upload wrote 1 GiB
    to the server's temp folder)'."""
    folder = scene(tmp_path / "s")
    entries = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    bomb = zipped({**entries, "padding.bin": b"\0" * (256 * 2**20)})
    assert len(bomb) < 2**20
    answer = post_scene(client, "bomb.zip", bomb)
    assert answer.status_code == 422 and "unpacks to" in answer.json()["detail"], answer.text[:200]


# -- Why 3: outputs replaced files nobody asked to replace ------------------------------------------


def call_mcp(root: Path, tool: str, arguments: dict) -> str:
    """What the MCP server's ``tool`` answers (its text, or the error it raises)."""
    from layeredit.integrations.mcp_server import build_server

    server = build_server(root=root)
    try:
        return str(anyio.run(server.call_tool, tool, arguments))
    except Exception as exc:  # the SDK turns a tool's error into an error answer
        return f"error: {exc}"


def test_11_mcp_decompose_does_not_replace_an_existing_psd(tmp_path: Path) -> None:
    """'MCP decompose_image replaces an existing .psd'."""
    save_png(picture(), tmp_path / "original.png")
    (tmp_path / "original.layers.psd").write_bytes(b"mine")
    call_mcp(tmp_path, "decompose_image", {"image_path": "original.png", "boxes": {"ball": list(BALL)}})
    assert (tmp_path / "original.layers.psd").read_bytes() == b"mine"


def test_12_mcp_decompose_into_dot_keeps_the_users_picture(tmp_path: Path) -> None:
    """'MCP decompose_image ... with output_path: ".", the user's own original.png'."""
    before = users_picture(tmp_path / "original.png")
    arguments = {"image_path": "original.png", "output_path": ".", "boxes": {"ball": list(BALL)}}
    call_mcp(tmp_path, "decompose_image", arguments)
    assert (tmp_path / "original.png").read_bytes() == before


def test_13_cli_decompose_into_dot_keeps_the_users_picture(tmp_path: Path, monkeypatch) -> None:
    """'layeredit decompose -o . likewise' (replaces the user's original.png)."""
    before = users_picture(tmp_path / "original.png")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli("decompose", "original.png", "-o", ".", "--box", BOX, "--hard-edges")
    assert code != 0 and "internal error" not in err
    assert (tmp_path / "original.png").read_bytes() == before


def manifest(folder: Path, lines: list[dict]) -> Path:
    path = folder / "manifest.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def batch_line(output: str, box: tuple = (1, 1, 9, 9), image: str = "a.png") -> dict:
    return {"image": image, "plan": REMOVE_BALL, "boxes": {"ball": list(box)}, "output": output}


def test_14_a_batch_line_never_writes_over_its_own_input(tmp_path: Path) -> None:
    """'a batch line whose output names its own input overwrites the input (and a rerun edits the
    edited picture)'."""
    before = users_picture(tmp_path / "a.png")
    run_cli("batch", manifest(tmp_path, [batch_line("a.png")]), "-o", tmp_path)
    assert (tmp_path / "a.png").read_bytes() == before


def test_15_batch_outputs_are_compared_by_where_they_land(tmp_path: Path) -> None:
    """'./a.png and a.png (or sub//a.png) are treated as different outputs, so the second silently
    replaces the first'."""
    save_png(picture(), tmp_path / "a.png")
    first = batch_line("sub/b.png", box=(1, 1, 9, 9))
    run_cli("batch", manifest(tmp_path, [first]), "-o", tmp_path / "alone")
    expected = (tmp_path / "alone" / "sub" / "b.png").read_bytes()
    lines = [
        first,
        batch_line("./sub/b.png", box=(30, 20, 40, 28)),
        batch_line("sub//b.png", box=(2, 2, 8, 30)),
    ]
    code, _, _ = run_cli("batch", manifest(tmp_path, lines), "-o", tmp_path / "out")
    assert code != 0  # the two lines naming the same output again are reported as failed
    assert (tmp_path / "out" / "sub" / "b.png").read_bytes() == expected


def test_16_a_symlink_in_the_output_folder_does_not_send_outputs_outside(tmp_path: Path) -> None:
    """'a symlink inside the output folder sends outputs outside it'."""
    save_png(picture(), tmp_path / "a.png")
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "away").symlink_to(outside)
    run_cli("batch", manifest(tmp_path, [batch_line("away/c.png")]), "-o", tmp_path / "out")
    assert list(outside.iterdir()) == []


def test_17_chat_save_does_not_replace_a_file_unasked(tmp_path: Path) -> None:
    """'chat save replaces any file under the root'."""
    from layeredit.agent import RulePlanner
    from layeredit.agent.chat import ChatSession
    from layeredit.engine.pixel import PixelEngine

    save_png(picture(), tmp_path / "photo.png")
    (tmp_path / "taken.png").write_bytes(b"mine")
    session = ChatSession.start(tmp_path / "photo.png", tmp_path / "session", RulePlanner(), PixelEngine())
    with contextlib.suppress(LayereditError):  # refusing is one way not to replace it
        session.handle(f"save {tmp_path / 'taken.png'}")
    assert (tmp_path / "taken.png").read_bytes() == b"mine"


# -- Why 4: malformed inputs ended in internal errors -----------------------------------------------


def compose_ora(tmp_path: Path, change: Callable[[dict[str, bytes]], object]) -> Callable[[], object]:
    path = tmp_path / "edited.ora"
    path.write_bytes(changed_ora(scene(tmp_path / "s.ora"), change))
    return lambda: compose(path)


def compose_folder(tmp_path: Path, change: Callable[[dict], object]) -> Callable[[], object]:
    folder = change_scene_json(scene(tmp_path / "s"), change)
    return lambda: compose(folder)


BAD_SOURCES = {
    "missing": '<layer name="ball" x="0" y="0"/>',
    "absolute": '<layer name="ball" src="/etc/passwd"/>',
    "dotdot": '<layer name="ball" src="../x.png"/>',
}


@pytest.mark.parametrize("layer", BAD_SOURCES.values(), ids=BAD_SOURCES.keys())
def test_18_an_ora_layer_src_missing_absolute_or_climbing_is_one_clear_error(
    tmp_path: Path, layer: str
) -> None:
    """'malformed scenes (ORA layer src missing, absolute or ..)' ended in internal errors."""
    one_clear_line(compose_ora(tmp_path, lambda e: ball_layer(e, layer)))


@pytest.mark.parametrize("offset", ['x="inf"', 'y="nan"', 'x="left"'])
def test_19_ora_offsets_inf_nan_or_text_are_one_clear_error(tmp_path: Path, offset: str) -> None:
    """'offsets inf/nan/text' ended in internal errors."""
    layer = f'<layer name="ball" src="data/ball.png" {offset}/>'

    def change(entries: dict[str, bytes]) -> None:
        source = next(name for name in entries if name.startswith("data/") and "ball" in name)
        ball_layer(entries, layer.replace("data/ball.png", source))

    one_clear_line(compose_ora(tmp_path, change))


@pytest.mark.parametrize("box", [[40, 20, 90, 90], [-50, -50, -10, -10]], ids=["past", "before"])
def test_20_boxes_outside_the_canvas_are_one_clear_error(tmp_path: Path, box: list[int]) -> None:
    """'boxes outside the canvas' ended in internal errors."""
    one_clear_line(compose_folder(tmp_path, lambda d: d["found"][0].update(box=box)))


@pytest.mark.parametrize("size", [(0, 32), (-48, 32), (48, 0)])
def test_21_a_scene_size_zero_or_negative_is_one_clear_error(tmp_path: Path, size: tuple[int, int]) -> None:
    """'size 0 or negative' ended in internal errors (an ORA declaring it)."""
    one_clear_line(compose_ora(tmp_path, lambda e: declare_canvas(e, *size)))


@pytest.mark.parametrize(
    "text",
    [b"[]", b"null", b"\xff\xfe not utf-8", b"[" * 5000 + b"]" * 5000],
    ids=["list", "null", "not-utf8", "deep"],
)
def test_22_a_scene_json_that_is_not_a_scene_is_one_clear_error(tmp_path: Path, text: bytes) -> None:
    """'scene.json that is a list, null, non-UTF-8 or deeply nested' ended in internal errors."""
    folder = scene(tmp_path / "s")
    (folder / "scene.json").write_bytes(text)
    one_clear_line(lambda: compose(folder))


def test_23_duplicate_layer_names_are_one_clear_error(tmp_path: Path) -> None:
    """'duplicate layer names' ended in internal errors."""
    one_clear_line(compose_folder(tmp_path, lambda d: d["layers"][0].update(name="ball")))
    one_clear_line(compose_ora(tmp_path, lambda e: ball_layer(e, '<layer name="background" src="x.png"/>')))


def test_24_a_bomb_png_as_a_layer_is_one_clear_error(tmp_path: Path) -> None:
    """'a bomb PNG as a layer' ended in an internal error."""

    def change(entries: dict[str, bytes]) -> None:
        source = next(name for name in entries if name.startswith("data/") and "ball" in name)
        entries[source] = png_claiming_size(20000, 20000)

    one_clear_line(compose_ora(tmp_path, change))


def test_25_a_garbage_psd_is_one_clear_error(tmp_path: Path) -> None:
    """'a garbage PSD' ended in an internal error."""
    (tmp_path / "x.psd").write_bytes(b"8BPS\0\1" + bytes(range(256)) * 4)
    one_clear_line(lambda: compose(tmp_path / "x.psd"))


def test_26_an_ora_without_stack_xml_is_one_clear_error(tmp_path: Path) -> None:
    """'no stack.xml' ended in an internal error."""
    one_clear_line(compose_ora(tmp_path, lambda e: e.pop("stack.xml")))


def test_27_psd_export_of_non_latin_1_names(tmp_path: Path) -> None:
    """'non-Latin-1 object or file names (球, 猫.jpg, 😀.jpg) crash PSD export'."""
    image = save_png(picture(), tmp_path / "猫.png")
    code, _, err = run_cli(
        "decompose", image, "-o", tmp_path / "😀.psd", "--box", "球=10,8,22,20", "--hard-edges"
    )
    assert code == 0, err
    assert [item.name for item in read_scene(tmp_path / "😀.psd").record.found] == ["球"]


def test_28_layer_downloads_of_non_latin_1_names(client) -> None:
    """'non-Latin-1 object ... names crash ... the layers zip/PSD downloads'."""
    files = [("image", ("猫.png", png(picture()), "image/png"))]
    plan = {"operations": [{"op": "move", "target": {"phrase": "球"}, "dx": 0.1, "dy": 0}]}
    form = {"instruction": json.dumps(plan), "boxes": json.dumps({"球": list(BALL)})}
    done = client.post("/v1/edit", files=files, data=form)
    assert done.status_code == 200, done.text[:300]
    for kind in ("psd", "zip", "ora"):
        answer = client.get(f"/v1/results/{done.json()['id']}/layers.{kind}")
        assert answer.status_code == 200, (kind, answer.text[:300])


def test_29_rest_decompose_of_non_latin_1_names(client) -> None:
    """'non-Latin-1 ... file names crash ... /v1/decompose (the Content-Disposition header cannot
    encode them)'."""
    files = [("image", ("😀猫.png", png(picture()), "image/png"))]
    form = {"boxes": json.dumps({"球": list(BALL)}), "soft_edges": "false"}
    answer = client.post("/v1/decompose", files=files, data=form)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-disposition"].isascii()


def test_30_one_bad_batch_line_does_not_stop_the_batch(tmp_path: Path) -> None:
    """'one bad batch line (bomb header, Infinity in a box, a 5000-digit number) aborts the whole
    batch with nothing recorded'."""
    save_png(picture(), tmp_path / "a.png")
    (tmp_path / "bomb.png").write_bytes(png_claiming_size(20000, 20000))
    plan = json.dumps(REMOVE_BALL)

    def line(image: str, corner: str, output: int) -> str:
        boxes = f'{{"ball": [1, 1, {corner}, 9]}}'  # raw text: json.dumps cannot write these numbers
        return f'{{"image": "{image}", "plan": {plan}, "boxes": {boxes}, "output": "{output}.png"}}'

    lines = [
        line("bomb.png", "9", 1),
        line("a.png", "Infinity", 2),
        line("a.png", "9" * 5000, 3),
        line("a.png", "9", 4),
    ]
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n")
    code, _, err = run_cli("batch", tmp_path / "m.jsonl", "-o", tmp_path / "out")
    assert code == 1 and "internal error" not in err, err
    assert (tmp_path / "out" / "4.png").exists()
    recorded = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert sorted(entry["line"] for entry in recorded) == [1, 2, 3, 4]


@pytest.mark.parametrize("text", ["¹", "9" * 5000], ids=["superscript-one", "5000-digits"])
def test_31_chat_answers_that_are_not_a_choice_number(text: str) -> None:
    """'answering a chat question with "¹" or a 5000-digit number' ended in an internal error."""
    from layeredit.agent.questions import Choice, Question

    question = Question("which?", [Choice("first", "remove it"), Choice("second", "remove it")])
    assert question.answer(text) is None


def test_32_edit_with_no_instruction_is_an_input_error() -> None:
    """'edit(img, None) ... raise[s] raw Python errors'."""
    one_clear_line(lambda: edit(picture(), None))  # type: ignore[arg-type]


@pytest.mark.parametrize("given", [None, 42])
def test_33_compose_of_what_is_not_a_scene_is_an_input_error(given) -> None:
    """'compose() on a bad scene raise[s] raw Python errors'."""
    one_clear_line(lambda: compose(given))


# -- Why 5: state that was lost or unbounded ----------------------------------------------------------


def start_server(data_dir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """``layeredit serve`` in a subprocess, answering; (its process, its URL)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "layeredit.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--data-dir", str(data_dir)]  # fmt: skip
    with log.open("ab") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.1)


def test_34_a_session_message_cut_off_by_kill_9_is_answered_after_restart(tmp_path: Path) -> None:
    """'a session message running at kill -9 disappears (neither re-queued like /v1/jobs nor reported)'."""
    with Image.open(SAMPLES / "soccer" / "image.jpg") as photo:
        photo_png = png(np.asarray(photo.convert("RGB").resize((160, 160))))
    with Image.open(SAMPLES / "soccer" / "boy.jpg") as mask:
        boy = png(np.asarray(mask.convert("L").resize((160, 160))))
    process, url = start_server(tmp_path / "data", tmp_path / "server.log")
    try:
        files = [("image", ("image.png", photo_png, "image/png")), ("masks", ("boy.png", boy, "image/png"))]
        for shift in (5, 6):  # edits ahead of the message keep it waiting when the server dies
            move = {"instruction": f"move the boy left by {shift} pixels"}
            assert httpx.post(f"{url}/v1/jobs", files=files, data=move, timeout=30).status_code == 202
        created = httpx.post(f"{url}/v1/sessions", files=files, timeout=30)
        assert created.status_code == 201, created.text
        session = created.json()["id"]
        said = {"text": "remove the boy"}
        assert httpx.post(f"{url}/v1/sessions/{session}/messages", data=said, timeout=30).status_code == 202
    finally:
        process.kill()
        process.wait(timeout=30)
    process, url = start_server(tmp_path / "data", tmp_path / "server.log")
    try:
        deadline = time.monotonic() + 120
        while (view := httpx.get(f"{url}/v1/sessions/{session}", timeout=30).json())["busy"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        said = [(entry["role"], entry["text"].split(":")[0]) for entry in view["messages"]]
        assert said == [("user", "remove the boy"), ("assistant", "done")], view["messages"]
    finally:
        process.kill()
        process.wait(timeout=30)


def test_35_sessions_past_the_default_limit_get_429(tmp_path: Path) -> None:
    """'sessions are created without limit (100 concurrent 2048² creations, no 429)'."""
    files = [("image", ("tiny.png", png(picture()), "image/png"))]
    with TestClient(create_app(data_dir=tmp_path)) as server:
        codes = [server.post("/v1/sessions", files=files).status_code for _ in range(101)]
    assert codes[:100] == [201] * 100 and codes[100] == 429


def test_36_a_session_unused_for_weeks_is_gone_after_a_restart(tmp_path: Path) -> None:
    """'sessions ... never expire'."""
    files = [("image", ("tiny.png", png(picture()), "image/png"))]
    with TestClient(create_app(data_dir=tmp_path)) as server:
        session = server.post("/v1/sessions", files=files).json()["id"]
    long_ago = time.time() - 60 * 24 * 3600
    for path in tmp_path.rglob("*"):
        os.utime(path, (long_ago, long_ago), follow_symlinks=False)
    with TestClient(create_app(data_dir=tmp_path)) as server:
        assert server.get(f"/v1/sessions/{session}").status_code == 404
    assert not [path for path in tmp_path.rglob("*") if path.is_file() and path.suffix == ".png"]


def test_37_masks_of_red_ball_and_red_underscore_ball_stay_apart(tmp_path: Path) -> None:
    """'two object names that differ only in spaces vs underscores ("red ball", "red_ball") share
    one mask file, so after a resume the wrong object is edited'."""
    from layeredit.agent import RulePlanner
    from layeredit.agent.chat import ChatSession
    from layeredit.engine.pixel import PixelEngine

    first = np.zeros((SIZE[1], SIZE[0]), bool)
    second = first.copy()
    first[:4], second[-4:] = True, True
    masks = {"red ball": first, "red_ball": second}
    ChatSession.start(picture(), tmp_path / "session", RulePlanner(), PixelEngine(), masks=masks)
    resumed = ChatSession.resume(tmp_path / "session", RulePlanner(), PixelEngine())
    assert resumed.turn.masks["red ball"][:4].all() and not resumed.turn.masks["red ball"][-4:].any()
    assert resumed.turn.masks["red_ball"][-4:].all() and not resumed.turn.masks["red_ball"][:4].any()


def test_38_temporary_files_of_a_killed_write_are_cleaned_by_the_next(tmp_path: Path) -> None:
    """'kill -9 leaves .NAME.*.tmp files that nothing cleans'."""
    folder = scene(tmp_path / "s")
    left = tmp_path / ".out.png.k9x2a1.tmp"
    left.write_bytes(b"half a picture")
    long_ago = time.time() - 7 * 24 * 3600
    os.utime(left, (long_ago, long_ago))
    code, _, err = run_cli("compose", folder, "-o", tmp_path / "out.png")
    assert code == 0, err
    assert (tmp_path / "out.png").exists() and not left.exists()


# -- Why 6: cross-site requests, MCP replies, decompose with no budget --------------------------------


@pytest.mark.parametrize("route", ["/v1/edit", "/v1/sessions", "/v1/compose"])
def test_39_a_cross_site_form_post_is_refused_without_a_token(client, route: str) -> None:
    """'without --token (the default) a page on any site can POST multipart forms to /v1/edit,
    /v1/sessions and /v1/compose'."""
    files = {
        "/v1/edit": [("image", ("a.png", png(picture()), "image/png"))],
        "/v1/sessions": [("image", ("a.png", png(picture()), "image/png"))],
        "/v1/compose": [("scene", ("s.zip", zipped({"scene.json": "{}"}), "application/zip"))],
    }[route]
    form = {"instruction": "move the ball left", "boxes": json.dumps({"ball": list(BALL)})}
    cross_site = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    answer = client.post(route, files=files, data=form if route == "/v1/edit" else None, headers=cross_site)
    assert answer.status_code == 403, answer.text[:200]


def test_40_mcp_answers_malformed_json_rpc_lines_on_stdout() -> None:
    """'MCP answers malformed JSON-RPC lines on stderr, so the client gets no reply'."""
    lines = [
        b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": "x"}',
        b'{"jsonrpc": "2.0", "id": 5, "method": "ping", "params": [1]}',
        b'{"jsonrpc": "2.0", "id": {}, "method": "ping"}',
        b'{"jsonrpc": "2.0", "id": 3, "method": "ping"}',
    ]
    done = subprocess.run([sys.executable, "-m", "layeredit.cli", "mcp"], input=b"\n".join(lines) + b"\n",
                          capture_output=True, timeout=120)  # fmt: skip
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(answer["id"], answer.get("error", {}).get("code")) for answer in answers] == [
        (1, -32600),
        (5, -32600),
        (None, -32600),
        (3, None),
    ], done.stderr.decode()[-500:]


def test_41_rest_decompose_past_the_work_budget_is_refused_at_once(client) -> None:
    """'/v1/decompose at the 4096² limit runs 230 s at 7 GB' (here 2048², over the default work budget)."""
    pixels = np.zeros((2048, 2048, 3), np.uint8)
    pixels[512:1024, 512:1024] = (200, 30, 30)
    files = [("image", ("big.png", png(pixels), "image/png"))]
    answer = client.post("/v1/decompose", files=files, data={"boxes": '{"red": [500, 500, 1040, 1040]}'})
    assert answer.status_code == 413, answer.text[:200]
