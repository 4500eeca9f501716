"""Every case of the hostile corpus (tests/hostile/corpus.json) across CLI, REST, chat, MCP and API.

Counted for each case: tracebacks and internal errors (there must be none), successes that leave
the picture unchanged (none), files read or written outside the sandbox's root (none), and input
files changed (none). Everything runs in this process, one sandbox for the whole corpus.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import sys
from collections import Counter
from pathlib import Path

import anyio
import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the corpus covers the server (server extra)")
pytest.importorskip("mcp", reason="the corpus covers the MCP server (agent extra)")

from fastapi.testclient import TestClient  # noqa: E402
from mcp.server.mcpserver.exceptions import ToolError  # noqa: E402

import layeredit  # noqa: E402
from layeredit.admission.roots import FileScope  # noqa: E402
from layeredit.agent.chat import ChatSession, run_chat  # noqa: E402
from layeredit.agent.llm import make_planner  # noqa: E402
from layeredit.engine.pixel import PixelEngine  # noqa: E402
from layeredit.errors import LayereditError  # noqa: E402
from layeredit.imageio import as_rgb_array, load_image  # noqa: E402
from layeredit.integrations.mcp_server import build_server  # noqa: E402
from layeredit.integrations.mcp_stdin import problem  # noqa: E402
from layeredit.server import create_app  # noqa: E402
from layeredit.server.service import ServerStorage  # noqa: E402
from tests.cli_inprocess import run_cli  # noqa: E402
from tests.hostile.generate import CORPUS, materialize  # noqa: E402

CASES = json.loads(CORPUS.read_text(encoding="utf-8"))
SCOPED_ENTRIES = ("rest", "chat", "mcp")  # the CLI and the API read what their caller names

# Every file opened while a scoped case runs is checked against the forbidden folder.
watched: dict[str, str | None] = {"folder": None}
reads_outside: list[str] = []


def _audit(event: str, args: tuple) -> None:
    folder = watched["folder"]
    if folder is not None and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.realpath(os.fsdecode(args[0]))
        if path.startswith(folder):
            reads_outside.append(path)


sys.addaudithook(_audit)  # stays for the process; it does nothing while no folder is watched


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): digest(p) for p in sorted(folder.rglob("*")) if p.is_file()
            and not p.is_symlink()}  # fmt: skip


def same_picture(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a, b)


class Sandbox:
    def __init__(self, folder: Path):
        self.root, self.outside = materialize(folder)
        self.inputs = snapshot(self.root)
        self.outside_before = snapshot(self.outside)
        self.folder = folder

    def picture(self, name: str) -> np.ndarray | None:
        try:
            return load_image(self.root / name, keep_alpha=True)
        except LayereditError:
            return None


def run_cli_case(box: Sandbox, case: dict) -> str:
    args = case["args"]
    output = box.root / args[args.index("-o") + 1] if "-o" in args[:-1] else None
    new_output = output is not None and not output.exists()
    code, _, err = run_cli(*args, stdin=case.get("stdin", ""))
    try:
        if "Traceback" in err or "internal error" in err or code not in (0, 2):
            return f"internal error (exit {code}): {err[-300:]}"
        if code == 0 and args[0] == "edit" and output is not None:
            source = box.picture(args[1])
            if source is not None and same_picture(source, load_image(output, keep_alpha=True)):
                return "unchanged image reported as success"
        return ""
    finally:
        if new_output and output.is_file():  # a file the case made; what was there stays, changed or not
            output.unlink()


def _upload(box: Sandbox, name: str) -> bytes:
    """What the client sends; the client's own reading of its files is not the server's."""
    folder, watched["folder"] = watched["folder"], None
    try:
        path = box.root / name
        return path.read_bytes() if path.is_file() else b""
    finally:
        watched["folder"] = folder


def run_rest_case(box: Sandbox, client: TestClient, case: dict) -> str:
    path = case["path"]
    if case.get("method") == "get":
        answer = client.get(path)
    elif "json" in case:
        answer = client.post(path, json=case["json"])
    else:
        files = []
        if "image" in case:
            files.append(("image", (case["image"], _upload(box, case["image"]), "application/octet-stream")))
        if "scene" in case:
            files.append(("scene", (case["scene"], _upload(box, case["scene"]), "application/octet-stream")))
        for name, source in case.get("masks", {}).items():
            files.append(("masks", (name, _upload(box, source), "application/octet-stream")))
        form = dict(case.get("form", {}))
        if "instruction" in case:
            form["instruction"] = case["instruction"]
        if "boxes" in case:
            form["boxes"] = case["boxes"]
        answer = client.post(path, files=files or None, data=form)
    if answer.status_code in (500, 502, 503) or "internal error" in answer.text:  # 501: models not here
        return f"HTTP {answer.status_code}: {answer.text[:300]}"
    if answer.status_code == 200 and path == "/v1/edit":
        source = as_rgb_array(Image.open(io.BytesIO(_upload(box, case["image"]))), keep_alpha=True)
        edited = np.asarray(Image.open(io.BytesIO(base64.b64decode(answer.json()["image"]))))
        if same_picture(source, edited):
            return "unchanged image reported as success"
    return ""


def run_chat_case(session: ChatSession, case: dict) -> str:
    replies: list[str] = []
    before = session.turn.image
    run_chat(session, [case["line"]], replies.append)
    text = "\n".join(replies)
    if "internal error" in text or "Traceback" in text:
        return text[:300]
    if text.startswith("done") and same_picture(before, session.turn.image):
        return "unchanged image reported as success"
    return ""


def run_mcp_case(box: Sandbox, server, case: dict) -> str:
    if "jsonrpc" in case:
        answer = problem(case["jsonrpc"].encode())
        return "" if answer is None or "error" in answer else f"no JSON-RPC error for {case['jsonrpc'][:50]}"
    try:
        result = anyio.run(server.call_tool, case["tool"], case["args"])
    except ToolError as exc:
        return f"internal error: {str(exc)[:300]}" if "internal error" in str(exc) else ""
    except Exception as exc:  # noqa: BLE001 - anything but a tool error is a crash
        return f"crash: {type(exc).__name__}: {exc}"[:300]
    if case["tool"] == "edit_image":
        done = json.loads(result.content[1].text)
        output = Path(done["output_path"])
        if not output.resolve().is_relative_to(box.root.resolve()):
            return f"wrote outside the root: {output}"
        try:
            source = box.picture(case["args"]["image_path"])
            if source is not None and same_picture(source, load_image(output, keep_alpha=True)):
                return "unchanged image reported as success"
        finally:
            if output.is_file() and str(output.relative_to(box.root)) not in box.inputs:
                output.unlink()
    return ""


def _api_image(box: Sandbox, recipe: str):
    base = load_image(box.root / "image.png")
    made = {
        "zeros(0,0,3)": lambda: np.zeros((0, 0, 3), np.uint8),
        "zeros(8,8,5)": lambda: np.zeros((8, 8, 5), np.uint8),
        "nan_float": lambda: np.where(base > 100, np.nan, base / 255.0),
        "inf_float": lambda: np.where(base > 100, np.inf, 0.0),
        "object": lambda: base.astype(object),
        "bool": lambda: base > 100,
        "int64_big": lambda: base.astype(np.int64) * 10**12,
        "negative_int": lambda: base.astype(np.int16) - 300,
        "gray2d": lambda: base[..., 0],
        "rgba_array": lambda: np.dstack([base, np.full(base.shape[:2], 200, np.uint8)]),
        "pil_rgba": lambda: Image.open(box.root / "rgba.png"),
        "pil_I16": lambda: Image.open(box.root / "gray16.png"),
        "pil_exif": lambda: Image.open(box.root / "exif.jpg"),
    }
    return made[recipe]() if recipe in made else box.root / recipe


def _api_mask(box: Sandbox, recipe: str):
    boy = load_image(box.root / "boy.png")[..., 0] > 127
    made = {
        "all_false": lambda: np.zeros_like(boy),
        "nan_float": lambda: np.full(boy.shape, np.nan),
        "wrong_shape": lambda: boy[:10],
        "object": lambda: boy.astype(object),
        "ones_uint8": lambda: boy.astype(np.uint8),
        "3d_mask": lambda: np.dstack([boy] * 3),
        "pil_1": lambda: Image.fromarray(boy),
        "pil_rgba_clear": lambda: Image.open(box.root / "clear.png"),
    }
    return made[recipe]()


def run_api_case(box: Sandbox, case: dict) -> str:
    image = _api_image(box, case["image"])
    instruction = case.get("plan_dict", case.get("instruction"))
    masks = {"boy": _api_mask(box, case["mask"])} if "mask" in case else None
    try:
        result = layeredit.edit(image, instruction, masks=masks, boxes=case.get("boxes"))
    except LayereditError:
        return ""
    except Exception as exc:  # noqa: BLE001 - anything but a user error is a crash
        return f"crash: {type(exc).__name__}: {exc}"[:300]
    try:
        source = as_rgb_array(image, keep_alpha=True)
    except LayereditError:
        return ""
    return "unchanged image reported as success" if same_picture(source, result.image) else ""


def test_the_hostile_corpus(tmp_path, monkeypatch):
    assert len(CASES) >= 300 and {case["entry"] for case in CASES} == {"cli", "rest", "chat", "mcp", "api"}
    box = Sandbox(tmp_path / "sandbox")
    monkeypatch.chdir(box.root)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("LAYEREDIT_LLM", raising=False)
    tmp_x = Path("/tmp/x.png")
    tmp_x_before = tmp_x.exists()
    failures: dict[str, str] = {}
    counts: Counter[str] = Counter()
    mcp_server = build_server(PixelEngine(), root=box.root)
    session = ChatSession.start(box.root / "image.png", box.root / "chat-session", make_planner(None),
                                PixelEngine(), {"boy": str(box.root / "boy.png")})  # fmt: skip
    session.scope = FileScope(box.root)
    app = create_app(storage=ServerStorage(tmp_path / "server-data"))
    with TestClient(app, base_url="http://localhost") as client:
        for case in CASES:
            entry = case["entry"]
            counts[entry] += 1
            watched["folder"] = str(box.outside.resolve()) if entry in SCOPED_ENTRIES else None
            before_reads = len(reads_outside)
            if entry == "cli":
                failure = run_cli_case(box, case)
            elif entry == "rest":
                failure = run_rest_case(box, client, case)
            elif entry == "chat":
                failure = run_chat_case(session, case)
            elif entry == "mcp":
                failure = run_mcp_case(box, mcp_server, case)
            else:
                failure = run_api_case(box, case)
            watched["folder"] = None
            if len(reads_outside) > before_reads:
                failure = f"opened outside the root: {reads_outside[before_reads:]}"
            if failure:
                failures[case["id"]] = failure
    changed_inputs = [name for name, sha in box.inputs.items() if digest(box.root / name) != sha]
    assert snapshot(box.outside) == box.outside_before, "files outside the root were written"
    assert sorted(p.name for p in (tmp_path / "sandbox").iterdir()) == ["outside", "root"]
    assert tmp_x.exists() == tmp_x_before
    assert not changed_inputs, changed_inputs
    print(f"hostile corpus: {len(CASES)} cases {dict(counts)}; failures: {len(failures)}")
    assert not failures, "\n".join(f"{key}: {value}" for key, value in failures.items())
