"""Chat sessions are bounded: a count limit (429) and a retention time after which they are deleted."""

from __future__ import annotations

import io
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the server needs the server extra")
import click  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from layeredit.cli.serve_options import ServeSettings  # noqa: E402
from layeredit.cli_options import options_object  # noqa: E402
from layeredit.server import create_app  # noqa: E402
from layeredit.server.service import ServerStorage  # noqa: E402
from layeredit.server.sessions import OWNER_FILE  # noqa: E402
from tests.conftest import SAMPLES  # noqa: E402


def _small_png() -> bytes:
    with Image.open(SAMPLES / "soccer" / "image.jpg") as photo:
        small = photo.convert("RGB").resize((64, 48))
    buffer = io.BytesIO()
    small.save(buffer, format="PNG")
    return buffer.getvalue()


IMAGE = [("image", ("image.png", _small_png(), "image/png"))]


def _app(tmp_path, max_sessions: int = 100, retention_s: float = 3600.0):
    storage = ServerStorage(tmp_path / "jobs", max_sessions=max_sessions, session_retention_s=retention_s)
    return create_app(planner="rules", data_dir=tmp_path / "sessions", storage=storage)


def test_sessions_past_the_limit_get_429_with_retry_after_even_in_a_burst(tmp_path):
    with TestClient(_app(tmp_path, max_sessions=5)) as client:
        with ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(pool.map(lambda _: client.post("/v1/sessions", files=IMAGE), range(12)))
        codes = sorted(answer.status_code for answer in answers)
        assert codes == [201] * 5 + [429] * 7
        refused = next(answer for answer in answers if answer.status_code == 429)
        assert "limit of 5 chat sessions" in refused.json()["detail"]
        assert 3000 < int(refused.headers["retry-after"]) <= 3600
        assert len(list(client.app.state.sessions.folder.iterdir())) == 5


def test_an_unused_session_is_deleted_with_its_files_after_the_retention_time(tmp_path):
    with TestClient(_app(tmp_path, max_sessions=1, retention_s=600)) as client:
        old = client.post("/v1/sessions", files=IMAGE).json()["id"]
        folder = client.app.state.sessions.folder / old
        assert client.post("/v1/sessions", files=IMAGE).status_code == 429
        used = time.time() - 601
        os.utime(folder / OWNER_FILE, (used, used))
        new = client.post("/v1/sessions", files=IMAGE)  # the old one expired: room for one more
        assert new.status_code == 201, new.text
        assert not folder.exists()
        assert client.get(f"/v1/sessions/{old}").status_code == 404
        assert client.get(f"/v1/sessions/{new.json()['id']}").status_code == 200


def test_a_session_in_use_is_stale_and_expired_ones_go_at_startup(tmp_path):
    with TestClient(_app(tmp_path, retention_s=600)) as client:
        stale = client.post("/v1/sessions", files=IMAGE).json()["id"]
        recent = client.post("/v1/sessions", files=IMAGE).json()["id"]
        folder = client.app.state.sessions.folder
    long_ago = time.time() - 3600
    os.utime(folder / stale / OWNER_FILE, (long_ago, long_ago))
    os.utime(folder / recent / OWNER_FILE, (long_ago, long_ago))
    (folder / recent / OWNER_FILE).touch()  # used just now, as a request would mark it
    with TestClient(_app(tmp_path, retention_s=600)) as client:
        assert client.get(f"/v1/sessions/{recent}").status_code == 200
        assert client.get(f"/v1/sessions/{stale}").status_code == 404
        assert sorted(path.name for path in folder.iterdir()) == [recent]


def test_serve_flags_set_the_session_bounds_and_the_work_budget():
    @click.command()
    @options_object("serving", ServeSettings)
    def show(serving: ServeSettings) -> None:
        storage, budget = serving.storage(), serving.budget()
        click.echo(json.dumps([storage.max_sessions, storage.session_retention_s, budget.max_megapixels,
                               budget.max_seconds]))  # fmt: skip

    flags = ["--max-sessions", "3", "--session-retention-hours", "2", "--max-work-megapixels", "5",
             "--max-job-seconds", "9"]  # fmt: skip
    assert json.loads(CliRunner().invoke(show, flags).output) == [3, 7200, 5, 9]
    assert json.loads(CliRunner().invoke(show, []).output) == [100, 168 * 3600, 32, 120]
