"""Running jobs on a Ray cluster with Ray Data: the jobs as a dataset, mapped by a pool of editor actors.

Each actor holds the models (one GPU each when the cluster has GPUs). An actor that dies is
restarted and the lines it held are run again; pictures are written by the actors straight into
the output folder, which therefore must be one every node can reach (a shared file system).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any

from layeredit.batch.editor import Editor
from layeredit.batch.jobs import Job, RunSettings
from layeredit.batch.ledger import LineResult
from layeredit.errors import InputError, ModelLoadError

INSTALL_HINT = "pip install 'layeredit[ray]'"


def import_ray() -> ModuleType:
    try:
        import ray
        import ray.data  # noqa: F401 - Ray without its Data library cannot run a batch
    except ImportError:
        raise InputError(
            f"running on Ray needs Ray with Ray Data, which is not installed: {INSTALL_HINT}"
        ) from None
    return ray


def connect(address: str) -> ModuleType:
    """Join the cluster at ``address``; ``auto`` joins the one running here or starts one."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    if address != "auto":
        ray.init(address=address)
        return ray
    try:
        ray.init(address="auto")
    except ConnectionError:
        ray.init()
    return ray


class RayEditor:
    """A Ray Data map actor: models load in the constructor, once per actor (and per restart)."""

    def __init__(self, settings: dict[str, Any], out_dir: str):
        self.settings, self.out_dir = RunSettings(**settings), out_dir
        self.editor: Editor | None = None
        self.load_error = ""
        try:
            self.editor = Editor(self.settings, out_dir)
        except ModelLoadError as exc:  # reported to the driver, which stops the run with it
            self.load_error = str(exc)

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        if self.editor is None:
            return {"result": "", "load_error": self.load_error}
        return {"result": self.editor.run(Job.from_json(row["job"])).to_json(), "load_error": ""}


def run_on_ray(
    jobs: list[Job], settings: RunSettings, out_dir: Path, workers: int | None, address: str
) -> Iterator[LineResult]:
    ray = connect(address)
    gpus = int(ray.cluster_resources().get("GPU", 0))
    actors = workers or max(gpus, 1)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the batch has its own progress bar
    dataset = ray.data.from_items([{"job": job.to_json()} for job in jobs], override_num_blocks=len(jobs))
    edited = dataset.map(
        RayEditor,
        fn_constructor_kwargs={"settings": asdict(settings), "out_dir": str(out_dir)},
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_gpus=1 if gpus else 0,
        num_cpus=0 if gpus else 1,
    )  # Ray Data restarts a dead actor and retries the lines it held (max_restarts=-1 by default)
    for row in edited.iter_rows():
        if row["load_error"]:
            raise ModelLoadError(row["load_error"])
        yield LineResult.from_json(row["result"])
