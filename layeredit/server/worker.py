"""One worker thread runs every model call, in arrival order.

The engine and the segmentation models are shared by all requests and are not safe to run twice
at once (diffusers attention processors hold per-run state), so requests queue here instead of
racing. Finished jobs are kept for a while so clients can poll them and download their results.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from layeredit.engine.base import ProgressCallback
from layeredit.errors import LayereditError, error_text
from layeredit.server.uploads import RequestError

log = logging.getLogger(__name__)

Task = Callable[[ProgressCallback], Any]
Status = Literal["queued", "running", "done", "failed"]


@dataclass
class Job:
    id: str
    task: Task | None
    status: Status = "queued"
    stage: str = ""
    done: int = 0
    total: int = 0
    result: Any = None
    error: RequestError | None = None
    created: float = field(default_factory=time.monotonic)
    finished: threading.Event = field(default_factory=threading.Event)

    def progress(self, stage: str, done: int, total: int) -> None:
        self.stage, self.done, self.total = stage, done, total

    def wait(self, timeout: float | None = None) -> bool:
        return self.finished.wait(timeout)


class Worker:
    """A FIFO of jobs run one at a time; keeps the ``keep`` most recent jobs for polling."""

    def __init__(self, keep: int = 32):
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="layeredit-worker", daemon=True)
        self._thread.start()

    def submit(self, task: Task) -> Job:
        job = Job(id=uuid.uuid4().hex[:16], task=task)
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def waiting(self) -> int:
        """Jobs queued or running."""
        with self._lock:
            return sum(not job.finished.is_set() for job in self._jobs.values())

    def jobs_ahead(self, job: Job) -> int:
        """How many jobs run before ``job`` starts (0 when it is next or already running)."""
        with self._lock:
            waiting = [j for j in self._jobs.values() if not j.finished.is_set()]
        return waiting.index(job) if job in waiting else 0

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _forget_old(self) -> None:
        finished = [j.id for j in self._jobs.values() if j.finished.is_set()]
        for job_id in finished[: max(0, len(self._jobs) - self.keep)]:
            del self._jobs[job_id]

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            job.status = "running"
            try:
                assert job.task is not None  # each job is queued once
                job.result = job.task(job.progress)
                job.status = "done"
            except RequestError as exc:
                job.error, job.status = exc, "failed"
            except LayereditError as exc:  # the library's user errors: bad plan, missing mask
                job.error, job.status = RequestError(422, error_text(exc)), "failed"
            except Exception as exc:  # noqa: BLE001 - one failed job must not stop the worker
                log.exception("job %s failed", job.id)
                job.error = RequestError(500, error_text(exc))
                job.status = "failed"
            finally:
                job.task = None  # drop the closure so the request's images can be freed
                job.finished.set()
