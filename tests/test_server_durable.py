"""The real server in a subprocess: jobs survive kill -9 and SIGTERM; concurrent edits equal sequential ones.

Bounded: every wait has a deadline, and every server started here is killed at the end.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

httpx = pytest.importorskip("httpx", reason="the server tests need the server extra")

from layeredit.api import edit  # noqa: E402
from tests.conftest import SAMPLES  # noqa: E402

PHOTO = (SAMPLES / "soccer" / "image.jpg").read_bytes()


def _png(data: bytes, side: int, mode: str = "RGB") -> bytes:
    with Image.open(io.BytesIO(data)) as picture:
        small = picture.convert(mode).resize((side, side))
    buffer = io.BytesIO()
    small.save(buffer, format="PNG")
    return buffer.getvalue()


# Small pictures keep the jobs short; the queue stays long enough to be cut off by the kill.
IMAGE = _png(PHOTO, 160)
BOY = _png((SAMPLES / "soccer" / "boy.jpg").read_bytes(), 160, "L")


class Server:
    def __init__(self, data_dir: Path, log: Path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        command = [sys.executable, "-m", "layeredit.cli", "serve", "--host", "127.0.0.1",
                   "--port", str(self.port), "--data-dir", str(data_dir)]  # fmt: skip
        self.log = log.open("ab")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT,
                                        env={**os.environ, "HF_HUB_OFFLINE": "1"})  # fmt: skip
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)

    def submit(self, instruction: str = "move the boy to the left") -> str:
        files = [("image", ("image.png", IMAGE, "image/png")), ("masks", ("boy.png", BOY, "image/png"))]
        answer = httpx.post(f"{self.url}/v1/jobs", files=files, data={"instruction": instruction}, timeout=30)
        assert answer.status_code == 202, answer.text
        return answer.json()["id"]

    def status(self, job_id: str) -> str:
        answer = httpx.get(f"{self.url}/v1/jobs/{job_id}", timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()["status"]

    def wait_all_done(self, job_ids: list[str], seconds: float = 180) -> None:
        deadline = time.monotonic() + seconds
        while (pending := [j for j in job_ids if self.status(j) != "done"]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not pending, {j: self.status(j) for j in pending}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture
def servers(tmp_path):
    started: list[Server] = []

    def start() -> Server:
        started.append(Server(tmp_path / "data", tmp_path / "server.log"))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def test_queued_jobs_survive_kill_9_and_sigterm_and_results_stay_served(servers):
    first = servers()
    with ThreadPoolExecutor(max_workers=16) as pool:  # queued faster than they run
        jobs = list(pool.map(first.submit, [f"move the boy left by {3 + n} pixels" for n in range(16)]))
    deadline = time.monotonic() + 120
    while not any(first.status(job_id) == "done" for job_id in jobs):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=30)
    assert any(first_status != "done" for first_status in _statuses_on_disk(first)), "nothing was cut off"

    finished = [j for j in jobs if _status_on_disk(first, j) == "done"]
    second = servers()
    assert httpx.get(f"{second.url}/v1/results/{finished[0]}/image.png", timeout=30).status_code == 200
    jobs += [second.submit(f"move the boy right by {3 + n} pixels") for n in range(6)]
    second.process.send_signal(signal.SIGTERM)
    second.process.wait(timeout=30)  # stops within seconds instead of finishing the queue

    third = servers()
    third.wait_all_done(jobs)
    for job_id in (finished[0], jobs[-1]):
        image = httpx.get(f"{third.url}/v1/results/{job_id}/image.png", timeout=30)
        assert image.status_code == 200 and Image.open(io.BytesIO(image.content)).size == (160, 160)
        layers = httpx.get(f"{third.url}/v1/results/{job_id}/layers.zip", timeout=30)
        assert layers.status_code == 200 and layers.content[:2] == b"PK"


def _statuses_on_disk(server: Server) -> list[str]:
    with sqlite3.connect(server.data_dir / "jobs.sqlite3") as db:
        return [status for (status,) in db.execute("SELECT status FROM jobs")]


def _status_on_disk(server: Server, job_id: str) -> str:
    with sqlite3.connect(server.data_dir / "jobs.sqlite3") as db:
        return db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]


def test_fifty_concurrent_requests_equal_sequential_edits(servers):
    server = servers()
    png = _png(PHOTO, 64)
    pixels = np.asarray(Image.open(io.BytesIO(png)))
    box = {"boy": [25, 12, 45, 60]}
    instructions = [f"move the boy {'left' if n % 2 else 'right'} by {1 + n % 15} pixels" for n in range(50)]

    def post(instruction: str) -> np.ndarray:
        fields = {"instruction": instruction, "boxes": json.dumps(box)}
        files = [("image", ("small.png", png, "image/png"))]
        answer = httpx.post(f"{server.url}/v1/edit", files=files, data=fields, timeout=300)
        assert answer.status_code == 200, answer.text
        with Image.open(io.BytesIO(base64.b64decode(answer.json()["image"]))) as image:
            return np.asarray(image.convert("RGB"))

    with ThreadPoolExecutor(max_workers=50) as pool:
        concurrent = list(pool.map(post, instructions))
    sequential = [edit(pixels, text, boxes={"boy": tuple(box["boy"])}).image for text in instructions]
    for got, expected, text in zip(concurrent, sequential, instructions, strict=True):
        assert np.array_equal(got, expected), text
    rss = next(line for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines()
               if line.startswith("VmRSS"))  # fmt: skip
    print(f"server memory after 50 concurrent edits: {rss.split(':')[1].strip()}")


def _message_statuses(server: Server) -> list[str]:
    with sqlite3.connect(server.data_dir / "jobs.sqlite3") as db:
        return [status for (status,) in db.execute("SELECT status FROM jobs WHERE kind = 'message'")]


def test_session_messages_cut_off_by_kill_9_are_answered_once_after_restart(servers):
    first = servers()
    mask = [("masks", ("boy.png", BOY, "image/png"))]
    sessions = []
    for _ in range(4):
        created = httpx.post(
            f"{first.url}/v1/sessions", files=[("image", ("image.png", IMAGE, "image/png")), *mask]
        )
        assert created.status_code == 201, created.text
        sessions.append(created.json()["id"])
    with ThreadPoolExecutor(max_workers=8) as pool:  # edits ahead of the messages keep them waiting
        list(pool.map(first.submit, [f"move the boy left by {3 + n} pixels" for n in range(8)]))
    for session_id in sessions:
        sent = httpx.post(f"{first.url}/v1/sessions/{session_id}/messages", data={"text": "remove the boy"},
                          timeout=30)  # fmt: skip
        assert sent.status_code == 202, sent.text
    deadline = time.monotonic() + 120
    while "running" not in _message_statuses(first):  # kill -9 in the middle of a turn
        assert time.monotonic() < deadline and "queued" in _message_statuses(first), _message_statuses(first)
        time.sleep(0.005)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=30)
    assert "done" not in _message_statuses(first)[-1:], "the last message was not cut off"

    second = servers()
    deadline = time.monotonic() + 180
    for session_id in sessions:
        while (view := httpx.get(f"{second.url}/v1/sessions/{session_id}", timeout=30).json())["busy"]:
            assert time.monotonic() < deadline, view["busy"]
            time.sleep(0.1)
        said = [(entry["role"], entry["text"].split(":")[0]) for entry in view["messages"]]
        assert said == [("user", "remove the boy"), ("assistant", "done")], view["messages"]
        assert len(view["turns"]) == 2 and view["current"] == 1
    assert _message_statuses(second) == ["done"] * 4
