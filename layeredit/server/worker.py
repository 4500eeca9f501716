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


class Interrupted(BaseException):
    """Raised inside a running job when the server stops: the job is put back in the queue.

    Not an ``Exception``, so code that turns any failure into an answer (a chat turn's error
    reply) lets it through instead of recording the stop as the job's failure."""


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
    stopping: threading.Event | None = None  # the worker's: set when the server stops
    # (seconds, error): the job fails with the error at the first progress report past the time.
    time_limit: tuple[float, RequestError] | None = None
    started: float | None = None

    def progress(self, stage: str, done: int, total: int) -> None:
        if self.stopping is not None and self.stopping.is_set():
            raise Interrupted(f"job {self.id} stopped at {stage} {done}/{total}")
        if self.time_limit is not None and self.started is not None:
            seconds, error = self.time_limit
            if time.monotonic() - self.started > seconds:
                raise error
        self.stage, self.done, self.total = stage, done, total

    def wait(self, timeout: float | None = None) -> bool:
        return self.finished.wait(timeout)


class Worker:
    """A FIFO of jobs run one at a time; keeps the ``keep`` most recent jobs for polling.

    At most ``max_waiting`` jobs wait or run at once: one more gets a 429 with a Retry-After of
    about the time the queue takes to drain, so a burst of requests cannot exhaust memory.
    """

    def __init__(self, keep: int = 32, max_waiting: int = 64):
        self.keep = keep
        self.max_waiting = max_waiting
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._stopping = threading.Event()
        self._seconds_per_job = 1.0  # running mean, for Retry-After
        self._thread = threading.Thread(target=self._run, name="layeredit-worker", daemon=True)
        self._thread.start()

    def submit(
        self,
        task: Task,
        job_id: str | None = None,
        bounded: bool = True,
        time_limit: tuple[float, RequestError] | None = None,
    ) -> Job:
        """Queue ``task``; ``bounded=False`` for jobs already accepted (queued before a restart);
        ``time_limit`` (seconds, error) stops it with the error once it has run that long."""
        job = Job(id=job_id or new_job_id(), task=task, stopping=self._stopping, time_limit=time_limit)
        with self._lock:
            if self._stopping.is_set():
                raise RequestError(503, "the server is stopping; send the request again after it restarts")
            waiting = sum(not j.finished.is_set() for j in self._jobs.values())
            if bounded and waiting >= self.max_waiting:
                retry = max(1, round(waiting * self._seconds_per_job))
                raise RequestError(
                    429, f"the queue is full ({waiting} jobs waiting); try again in about {retry} s",
                    headers={"Retry-After": str(retry)},
                )  # fmt: skip
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

    def close(self, timeout: float = 5.0) -> None:
        """Stop taking work; the running job is interrupted at its next progress report."""
        self._stopping.set()
        self._queue.put(None)
        self._thread.join(timeout=timeout)

    def _forget_old(self) -> None:
        finished = [j.id for j in self._jobs.values() if j.finished.is_set()]
        for job_id in finished[: max(0, len(self._jobs) - self.keep)]:
            del self._jobs[job_id]

    def _run(self) -> None:
        while (job := self._queue.get()) is not None and not self._stopping.is_set():
            job.status = "running"
            started = job.started = time.monotonic()
            try:
                assert job.task is not None  # each job is queued once
                job.result = job.task(job.progress)
                job.status = "done"
            except Interrupted:
                job.status = "queued"  # kept on disk by its task; runs again after a restart
                return
            except Exception as exc:  # noqa: BLE001 - one failed job must not stop the worker
                job.error, job.status = as_request_error(exc), "failed"
            finally:
                job.task = None  # drop the closure so the request's images can be freed
                if job.status != "queued":
                    job.finished.set()
            self._seconds_per_job = 0.8 * self._seconds_per_job + 0.2 * (time.monotonic() - started)


def as_request_error(exc: Exception) -> RequestError:
    """The HTTP error for a failed job: 422 for the user's mistakes, 500 (logged) for a bug."""
    if isinstance(exc, RequestError):
        return exc
    if isinstance(exc, LayereditError):  # the library's user errors: bad plan, missing mask
        return RequestError(422, error_text(exc))
    log.error("job failed", exc_info=exc)
    return RequestError(500, error_text(exc))


def new_job_id() -> str:
    return uuid.uuid4().hex[:16]
