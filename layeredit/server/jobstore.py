"""Jobs kept on disk: an SQLite table of jobs beside one folder per job.

A job is an edit (``/v1/jobs``, ``/v1/edit``) or a chat session's message. Its folder holds its
request (an edit's image, masks, sources, plan and boxes; a message's text, marks and masks) from
the moment it is queued, and an edit's result (the image, the layers and the JSON answer) once it
is done, so queued and running jobs survive a restart (even kill -9) and results are served from
disk rather than kept in memory. Jobs that finished more than ``retention`` seconds ago are deleted.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from layeredit.engine.base import EditResult, RenderedLayer
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
    error_status INTEGER,
    kind TEXT NOT NULL DEFAULT 'edit',  -- edit or message
    session TEXT                      -- a message's session id
)
"""
# Columns added since the first schema, for a data folder written by an older server.
ADDED_COLUMNS = {"kind": "TEXT NOT NULL DEFAULT 'edit'", "session": "TEXT"}
ROW_COLUMNS = "id, status, created, finished, error, error_status, kind, session"  # a JobRow


@dataclass
class StoredRequest:
    """What an edit job needs to run: the picture, the plan and the objects' masks and boxes."""

    image: np.ndarray
    plan: EditPlan
    masks: dict[str, np.ndarray]
    boxes: dict[str, tuple[int, int, int, int]]
    sources: dict[str, np.ndarray]  # uploaded pictures that ``insert`` takes objects from, by file name
    # how a photo larger than the working size is edited: ResolutionParams fields by name (others: engine's)
    resolution: dict[str, Any] = field(default_factory=dict)
    refine_mask: np.ndarray | None = None  # features beside a removed object kept out of its hole


@dataclass
class StoredMessage:
    """What a chat session's message needs to run again after a restart.

    ``fields`` are its JSON-able parts (text, clicks, choice, drag...), ``masks`` the masks sent
    with it (a refine mask under the name ``refine_mask``'s key in ``fields``), ``sources`` the
    pictures an insert may take objects from; ``log_length`` is the length of the session's log
    when it was sent, so a message whose reply was saved before the crash is not answered twice.
    """

    fields: dict[str, Any]
    masks: dict[str, np.ndarray]
    log_length: int
    sources: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class JobRow:
    id: str
    status: str
    created: float
    finished: float | None
    error: str | None
    error_status: int | None
    kind: str = "edit"
    session: str | None = None


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
        present = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        for column, declaration in ADDED_COLUMNS.items():
            if column not in present:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {declaration}")

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
        if request.refine_mask is not None:
            _write_png(folder / "request" / "refine.png", request.refine_mask)
        spec = {
            "refine_mask": None if request.refine_mask is None else "refine.png",
            "plan": json.loads(request.plan.to_json()),
            "boxes": request.boxes,
            "resolution": request.resolution,
            **files,
        }
        text = json.dumps(spec).encode()
        write_atomically(folder / "request" / "request.json", lambda handle: handle.write(text))
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, status, created) VALUES (?, 'queued', ?)", (job_id, time.time())
            )

    def add_message(self, job_id: str, session_id: str, message: StoredMessage) -> None:
        """Write a session message's files, then its row (as :meth:`add` does for an edit)."""
        folder = self.job_folder(job_id) / "request"
        folder.mkdir(parents=True, exist_ok=True)
        masks = {}
        for number, (name, mask) in enumerate(message.masks.items()):
            masks[name] = f"mask-{number}.png"
            _write_png(folder / masks[name], mask)
        sources = {}
        for number, (name, picture) in enumerate(message.sources.items()):
            sources[name] = f"source-{number}.png"
            _write_png(folder / sources[name], picture)
        spec = {
            "fields": message.fields, "masks": masks, "sources": sources, "log_length": message.log_length
        }
        text = json.dumps(spec).encode()
        write_atomically(folder / "message.json", lambda handle: handle.write(text))
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, status, created, kind, session) VALUES (?, 'queued', ?, 'message', ?)",
                (job_id, time.time(), session_id),
            )

    def message(self, job_id: str) -> StoredMessage:
        folder = self.job_folder(job_id) / "request"
        spec = json.loads((folder / "message.json").read_text())
        masks = {name: _read_png(folder / file).astype(bool) for name, file in spec["masks"].items()}
        sources = {name: _read_png(folder / file) for name, file in spec.get("sources", {}).items()}
        return StoredMessage(spec["fields"], masks, spec["log_length"], sources)

    def request(self, job_id: str) -> StoredRequest:
        folder = self.job_folder(job_id) / "request"
        spec = json.loads((folder / "request.json").read_text())
        refine = spec.get("refine_mask")
        return StoredRequest(
            image=_read_png(folder / "image.png"),
            plan=EditPlan.parse(spec["plan"]),
            masks={name: _read_png(folder / file).astype(bool) for name, file in spec["masks"].items()},
            boxes={name: tuple(box) for name, box in spec["boxes"].items()},  # type: ignore[misc]
            sources={name: _read_png(folder / file) for name, file in spec["sources"].items()},
            resolution=spec.get("resolution") or _legacy_resolution(spec),
            refine_mask=None if refine is None else _read_png(folder / refine).astype(bool),
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
                f"SELECT {ROW_COLUMNS} FROM jobs WHERE id = ?",
                (job_id,),
            ).fetchone()
        return None if found is None else JobRow(*found)

    def unfinished(self, kind: str = "edit") -> list[JobRow]:
        """Jobs of ``kind`` queued or cut off while running (by a crash or a stop), oldest first;
        all are queued again."""
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET status = 'queued' WHERE status = 'running' AND kind = ?", (kind,)
            )
            rows = self._db.execute(
                f"SELECT {ROW_COLUMNS} FROM jobs WHERE status = 'queued' AND kind = ? ORDER BY created",
                (kind,),
            ).fetchall()
        return [JobRow(*row) for row in rows]

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


def _legacy_resolution(spec: dict[str, Any]) -> dict[str, Any]:
    """The resolution of a request queued by a server that stored only the strategy's name."""
    return {} if spec.get("hd_strategy") is None else {"hd_strategy": spec["hd_strategy"]}
