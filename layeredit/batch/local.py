"""Running jobs on this machine: in this process, or in worker processes (one GPU each)."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path
from typing import Any

from layeredit.batch.editor import Editor
from layeredit.batch.jobs import Job, RunSettings
from layeredit.batch.ledger import LineResult

# A worker that dies (out of memory, killed) takes the pool down; the unfinished lines are
# retried in a fresh pool this many times before they are recorded as failed.
POOL_RESTARTS = 2


def run_here(jobs: Iterable[Job], settings: RunSettings, out_dir: Path) -> Iterator[LineResult]:
    editor: Editor | None = None
    for job in jobs:
        editor = editor or Editor(settings, out_dir)
        yield editor.run(job)


def run_in_processes(
    jobs: list[Job], settings: RunSettings, out_dir: Path, workers: int
) -> Iterator[LineResult]:
    """Each worker process loads the models once and takes lines as it frees up."""
    pending = {job.line: job for job in jobs}
    for _ in range(POOL_RESTARTS + 1):
        if not pending:
            return
        context = multiprocessing.get_context("spawn")  # CUDA and torch's threads do not survive fork
        slots = context.Queue()
        for index in range(workers):
            slots.put(index)
        pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start_worker,
            initargs=(settings, str(out_dir), slots, workers, os.getpid()),
        )  # fmt: skip
        try:
            futures = {pool.submit(_run_in_worker, job): job.line for job in pending.values()}
            waiting = set(futures)
            while waiting:
                done, waiting = wait(waiting, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()
                    del pending[futures[future]]
                    yield result
        except BrokenProcessPool:
            continue
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    for job in pending.values():
        yield LineResult(
            line=job.line, status="error", plan=job.plan, key=job.key,
            error=f"a worker process died {POOL_RESTARTS + 1} times while this line was pending",
        )  # fmt: skip


_worker: dict[str, Any] = {}  # this worker process's settings and, once loaded, its editor


def _start_worker(settings: RunSettings, out_dir: str, slots, workers: int, parent: int) -> None:
    index = slots.get()
    if settings.engine == "designedit":
        import torch

        if "OMP_NUM_THREADS" not in os.environ:  # share the cores instead of fighting over them
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
        settings = replace(settings, device=worker_device(settings.device, index, torch.cuda.device_count()))
    _worker["settings"] = (settings, out_dir)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def worker_device(device: str | None, index: int, gpus: int) -> str | None:
    """Worker ``index``'s device: on several GPUs, unless one was named, one GPU each in turn."""
    if gpus > 1 and device in (None, "cuda"):
        return f"cuda:{index % gpus}"
    return device


def _exit_with_parent(parent: int) -> None:
    """A worker whose coordinator was killed (kill -9 leaves no time to clean up) ends itself."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _run_in_worker(job: Job) -> LineResult:
    if "editor" not in _worker:
        _worker["editor"] = Editor(*_worker["settings"])
    return _worker["editor"].run(job)
