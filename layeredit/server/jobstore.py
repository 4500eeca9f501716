"""Edit jobs kept on disk: an SQLite table of jobs beside one folder per job.

A job's folder holds its request (image, masks, sources, plan and boxes) from the moment it is
queued, and its result (the image, the layers and the JSON answer) once it is done, so queued
jobs survive a restart and results are served from disk rather than kept in memory. Jobs that
finished more than ``retention`` seconds ago are deleted.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from layeredit.engine.base import EditResult, RenderedLayer
from layeredit.engine.resolution import DEFAULT_HD_STRATEGY
from layeredit.export import layer_file_stem
from layeredit.imageio import write_atomically
from layeredit.plan import EditPlan

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,            -- queued, running, done or failed
    created REAL NOT NULL,
    finished REAL,
    error TEXT,
    error_status INTEGER
)
"""


@dataclass
class StoredRequest:
    """What an edit job needs to run: the picture, the plan and the objects' masks and boxes."""

    image: np.ndarray
    plan: EditPlan
    masks: dict[str, np.ndarray]
    boxes: dict[str, tuple[int, int, int, int]]
    sources: dict[str, np.ndarray]  # uploaded pictures that ``insert`` takes objects from, by file name
    hd_strategy: str = DEFAULT_HD_STRATEGY  # how a photo larger than the engine's working size is edited


@dataclass(frozen=True)
class JobRow:
    id: str
    status: str
    created: float
    finished: float | None
    error: str | None
    error_status: int | None


class JobStore:
    def __init__(self, folder: Path, retention: float = 24 * 3600):
        self.folder = folder
        self.retention = retention
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # One connection shared by the request threads and the worker, serialised by the lock.
        self._db = sqlite3.connect(folder / "jobs.sqlite3", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)

    def job_folder(self, job_id: str) -> Path:
        return self.folder / "jobs" / job_id

    # -- requests ------------------------------------------------------------------------------

    def add(self, job_id: str, request: StoredRequest) -> None:
        """Write the request's files, then the row that makes the job exist: a crash leaves no half job."""
        folder = self.job_folder(job_id)
        (folder / "request").mkdir(parents=True, exist_ok=True)
        _write_png(folder / "request" / "image.png", request.image)
        files = {"masks": {}, "sources": {}}
        for kind, arrays in (("masks", request.masks), ("sources", request.sources)):
            for number, (name, array) in enumerate(arrays.items()):
                file = f"{kind}-{number}.png"
                _write_png(folder / "request" / file, array)
                files[kind][name] = file
        spec = {
            "plan": json.loads(request.plan.to_json()),
            "boxes": request.boxes,
            "hd_strategy": request.hd_strategy,
            **files,
        }
        text = json.dumps(spec).encode()
        write_atomically(folder / "request" / "request.json", lambda handle: handle.write(text))
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, status, created) VALUES (?, 'queued', ?)", (job_id, time.time())
            )

    def request(self, job_id: str) -> StoredRequest:
        folder = self.job_folder(job_id) / "request"
        spec = json.loads((folder / "request.json").read_text())
        return StoredRequest(
            image=_read_png(folder / "image.png"),
            plan=EditPlan.parse(spec["plan"]),
            masks={name: _read_png(folder / file).astype(bool) for name, file in spec["masks"].items()},
            boxes={name: tuple(box) for name, box in spec["boxes"].items()},  # type: ignore[misc]
            sources={name: _read_png(folder / file) for name, file in spec["sources"].items()},
            hd_strategy=spec.get("hd_strategy", DEFAULT_HD_STRATEGY),
        )

    # -- status --------------------------------------------------------------------------------

    def mark(
        self, job_id: str, status: str, error: str | None = None, error_status: int | None = None
    ) -> None:
        finished = time.time() if status in ("done", "failed") else None
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET status = ?, finished = ?, error = ?, error_status = ? WHERE id = ?",
                (status, finished, error, error_status, job_id),
            )
        if finished is not None:
            shutil.rmtree(self.job_folder(job_id) / "request", ignore_errors=True)

    def forget(self, job_id: str) -> None:
        """Drop a job that was never accepted (the queue was full)."""
        with self._lock:
            self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        shutil.rmtree(self.job_folder(job_id), ignore_errors=True)

    def row(self, job_id: str) -> JobRow | None:
        with self._lock:
            found = self._db.execute(
                "SELECT id, status, created, finished, error, error_status FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
        return None if found is None else JobRow(*found)

    def unfinished(self) -> list[str]:
        """Jobs queued or cut off while running (by a crash or a stop), oldest first; all are queued again."""
        with self._lock:
            self._db.execute("UPDATE jobs SET status = 'queued' WHERE status = 'running'")
            rows = self._db.execute("SELECT id FROM jobs WHERE status = 'queued' ORDER BY created").fetchall()
        return [job_id for (job_id,) in rows]

    def expire(self) -> None:
        """Delete the jobs that finished more than ``retention`` seconds ago, with their files."""
        cutoff = time.time() - self.retention
        with self._lock:
            old = self._db.execute("SELECT id FROM jobs WHERE finished < ?", (cutoff,)).fetchall()
            self._db.execute("DELETE FROM jobs WHERE finished < ?", (cutoff,))
        for (job_id,) in old:
            shutil.rmtree(self.job_folder(job_id), ignore_errors=True)

    # -- results -------------------------------------------------------------------------------

    def result_folder(self, job_id: str) -> Path:
        return self.job_folder(job_id) / "result"

    def save_result(self, job_id: str, result: EditResult) -> None:
        """The edited image, each layer as an RGBA PNG (PSD and ORA are made from them), the plan."""
        folder = self.result_folder(job_id)
        (folder / "layers").mkdir(parents=True, exist_ok=True)
        _write_png(folder / "image.png", result.image)
        for number, layer in enumerate(result.layers):
            _write_png(folder / "layers" / f"{layer_file_stem(number, layer.name)}.png", layer.rgba)
        plan = result.plan.to_json(indent=2).encode()
        write_atomically(folder / "plan.json", lambda handle: handle.write(plan))

    def layers(self, job_id: str, names: list[str]) -> list[RenderedLayer]:
        folder = self.result_folder(job_id) / "layers"
        return [
            RenderedLayer(name=name, rgba=_read_png(folder / f"{layer_file_stem(number, name)}.png"))
            for number, name in enumerate(names)
        ]

    def save_answer(self, job_id: str, answer: dict[str, Any]) -> None:
        text = json.dumps(answer).encode()
        write_atomically(self.result_folder(job_id) / "answer.json", lambda handle: handle.write(text))

    def answer(self, job_id: str) -> dict[str, Any] | None:
        path = self.result_folder(job_id) / "answer.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _write_png(path: Path, array: np.ndarray) -> None:
    pixels = array.astype(np.uint8) * 255 if array.dtype == bool else array
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    data = buffer.getvalue()
    write_atomically(path, lambda handle: handle.write(data))


def _read_png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image).copy()
