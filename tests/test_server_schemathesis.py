"""Schemathesis against the server's own OpenAPI schema: every operation, on a server without a
token and on one with a token (called with it and without it).

Checks on every answer: no 5xx, and nothing of a file the client did not send. A secret picture
is planted on disk (and in the working folder, so relative names find it too); besides the
generated cases, every case is sent again with its text fields naming that file, its image
fields holding a real picture, and its ids pointing at a real session or job, so the fuzzing
reaches past the first validation. No answer may hold the file's bytes, its text token, or its
pixels (a PNG answer, a base64 image in JSON, or a PNG inside a returned archive).
"""

from __future__ import annotations

import base64
import io
import json
import os
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

pytest.importorskip("fastapi", reason="the server needs the server extra")
import schemathesis  # noqa: E402 - the dev extra
from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402

from layeredit.server import create_app  # noqa: E402
from layeredit.server.access import PUBLIC_PATHS, AccessPolicy  # noqa: E402
from layeredit.server.service import ServerStorage  # noqa: E402

TOKEN = "fuzz-token"
SECRET_TEXT = b"LAYEREDIT-SECRET-7f3a9c"
EXAMPLES_PER_OPERATION = 12 * int(os.environ.get("LAYEREDIT_FUZZ_SCALE", "1"))  # `make fuzz`: x20
COUNTS: Counter[str] = Counter()


def _png(pixels: np.ndarray, text: bytes | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    if text is not None:
        info.add_text("secret", text.decode())
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


SECRET_PIXELS = np.random.default_rng(22).integers(0, 256, (40, 56, 3), dtype=np.uint8)
SECRET_PNG = _png(SECRET_PIXELS, SECRET_TEXT)
PHOTO = _png(np.full((48, 64, 3), 90, dtype=np.uint8))


def _scene_zip(probe: str) -> bytes:
    """A scene folder, zipped, whose original picture and background layer name ``probe`` (the
    secret), with one layer moved so that compose renders it."""
    height, width = SECRET_PIXELS.shape[:2]
    layer = {"name": "cat", "file": "01_cat.png", "box": [8, 8, 24, 24], "z": 1, "visible": True}
    scene = {
        "format": "layeredit-scene", "version": 1, "size": [width, height],
        "found": [{"name": "cat", "box": [4, 4, 20, 20], "source": "box"}], "original": probe,
        "layers": [{"name": "background", "file": probe, "box": [0, 0, width, height], "z": 0,
                    "visible": True, "source": "plate"}, layer],
    }  # fmt: skip
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("scene.json", json.dumps(scene))
        archive.writestr("01_cat.png", _png(np.full((16, 16, 4), 200, dtype=np.uint8)))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("secret")
    (folder / "secret.png").write_bytes(SECRET_PNG)
    (folder / "secret.txt").write_bytes(SECRET_TEXT)
    return folder


def _probes(folder: Path) -> list[str]:
    """Text a client could send hoping the server opens the secret file."""
    path = str(folder / "secret.png")
    insert = {"operations": [{"op": "insert", "source": path, "target": {"phrase": "cat"}}]}
    return [path, "secret.png", "../" * 12 + path.lstrip("/"), f"file://{path}", json.dumps(insert),
            str(folder / "secret.txt"), "../secret.png"]  # fmt: skip


@pytest.fixture(scope="module")
def servers(planted, tmp_path_factory):
    """(name, client, headers to send, real ids) for each way of calling; the clients stay open."""
    data = tmp_path_factory.mktemp("servers")
    started = []
    for name, access, headers in (
        ("no-token", None, {}),
        ("token", AccessPolicy.build(TOKEN), {"Authorization": f"Bearer {TOKEN}"}),
    ):
        storage = ServerStorage(data / name / "jobs", max_sessions=1000)
        app = create_app(planner="rules", data_dir=data / name / "sessions", access=access, storage=storage)
        client = TestClient(app, base_url="http://localhost").__enter__()
        started.append((name, client, headers, _real_ids(client, headers)))
    yield started
    for _, client, _, _ in started:
        client.__exit__(None, None, None)


def _real_ids(client: TestClient, headers: dict) -> dict[str, str]:
    """A session and a finished job to aim path parameters at."""
    image = [("image", ("photo.png", PHOTO, "image/png"))]
    session = client.post("/v1/sessions", files=image, headers=headers)
    form = {"instruction": '{"operations": [{"op": "remove", "target": {"phrase": "cat"}}]}',
            "boxes": '{"cat": [4, 4, 20, 20]}'}  # fmt: skip
    job = client.post("/v1/edit", files=image, data=form, headers=headers)
    assert session.status_code == 201 and job.status_code == 200, (session.text, job.text)
    return {"session_id": session.json()["id"], "job_id": job.json()["id"], "number": "0"}


def _leaked(content: bytes, content_type: str) -> str | None:
    """What of the secret an answer holds, or None."""
    if SECRET_TEXT in content or SECRET_PNG[40:120] in content or SECRET_PIXELS.tobytes()[:96] in content:
        return "the secret's bytes"
    pictures = []
    if content.startswith(b"\x89PNG"):
        pictures.append(content)
    if content.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            pictures += [archive.read(n) for n in archive.namelist() if n.endswith(".png")]
    if "json" in content_type:
        text = content.decode("utf-8", "replace")
        for chunk in text.split('"'):
            if len(chunk) > 64 and chunk.replace("data:image/png;base64,", "")[:4] == "iVBO":
                pictures.append(base64.b64decode(chunk.replace("data:image/png;base64,", "")))
    for data in pictures:
        with Image.open(io.BytesIO(data)) as picture:
            pixels = np.asarray(picture.convert("RGB"))
        # Noise matches by chance almost nowhere: half the pixels equal is the secret, edited or not.
        if pixels.shape == SECRET_PIXELS.shape and (pixels == SECRET_PIXELS).all(axis=2).mean() > 0.5:
            return "the secret's pixels"
    return None


def _send(client: TestClient, kwargs: dict, headers: dict):
    request = {key: kwargs[key] for key in ("method", "url", "params", "files", "json") if kwargs.get(key)}
    request["headers"] = {**kwargs.get("headers", {}), **headers}
    data = kwargs.get("data")
    if data is not None:
        request["content" if isinstance(data, bytes | str) else "data"] = data
    return client.request(**request)


def _variants(kwargs: dict, probe: str, ids: dict[str, str], operation) -> list[dict]:
    """The case as generated, then aimed deeper: real ids, a real picture, text naming the secret."""
    found = [kwargs]
    path = operation.path
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    if "{" not in path or path != operation.path:
        aimed = path.replace("{name}", "cat").replace("{kind}", "zip")
        if "{" not in aimed:
            found.append({**kwargs, "url": aimed})
    if kwargs.get("files"):
        files = []
        for field, (filename, value) in kwargs["files"]:
            if field == "scene":
                files.append((field, ("scene.zip", _scene_zip(probe))))
            elif field in ("image", "masks", "sources"):
                files.append((field, (probe if field == "sources" else "photo.png", PHOTO)))
            elif isinstance(value, str | bytes) and field not in ("hd_strategy", "format"):
                files.append((field, (None, probe)))
            else:
                files.append((field, (filename, value)))
        found.append({**kwargs, "files": files, "url": found[-1]["url"]})
    return found


SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", create_app(planner="rules"))
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.mark.parametrize("operation", OPERATIONS, ids=[f"{op.method.upper()} {op.path}" for op in OPERATIONS])
def test_no_server_error_and_no_file_the_client_did_not_send(operation, servers, planted, monkeypatch):
    monkeypatch.chdir(planted)  # a relative name would find the secret here
    probes = _probes(planted)

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def check(case):
        kwargs = case.as_transport_kwargs()
        COUNTS["generated"] += 1
        probe = probes[COUNTS["generated"] % len(probes)]  # each case names the secret one way
        for name, client, headers, ids in servers:
            for sent in _variants(kwargs, probe, ids, operation):
                answer = _send(client, sent, headers)
                COUNTS["requests"] += 1
                COUNTS[f"status {answer.status_code}"] += 1
                where = f"{name}: {sent['method']} {sent['url']}"
                # 501: a feature this server was started without (the perception models), as declared
                assert answer.status_code < 500 or answer.status_code == 501, (
                    f"{where} -> {answer.status_code} {answer.text[:300]}"
                )
                leak = _leaked(answer.content, answer.headers.get("content-type", ""))
                assert leak is None, f"{where} answered with {leak}"
                if headers and sent["url"] not in PUBLIC_PATHS:  # without the token: refused, never served
                    bare = _send(client, sent, {})
                    COUNTS["requests"] += 1
                    assert bare.status_code == 401, f"{where} without the token -> {bare.status_code}"

    check()
    print(f"\n{operation.method.upper()} {operation.path}: {dict(COUNTS)}")
