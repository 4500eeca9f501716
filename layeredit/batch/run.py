"""A batch run: check every line, carry over what earlier runs finished, run the rest somewhere."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from layeredit.admission.outputs import OutputClaims, claim_output, inside_folder
from layeredit.batch.jobs import Job, RunSettings, prepare
from layeredit.batch.ledger import Ledger, LineResult
from layeredit.batch.manifest import ManifestLine, check_fields, read_manifest
from layeredit.errors import LayereditError


class Batch:
    """The lines of a manifest sorted into those to run, those already done and those that are wrong.

    Building it reads files and plans instructions but loads no model, so it is also the dry run.
    """

    def __init__(self, lines: list[ManifestLine], base: Path, out_dir: str | Path, settings: RunSettings):
        self.out_dir, self.settings = Path(out_dir), settings
        self.ledger = Ledger(self.out_dir)
        self.total = len(lines)
        self.invalid: list[LineResult] = []
        jobs: list[Job] = []
        writers = OutputClaims()
        from layeredit.agent.llm import make_planner  # the rules unless an LLM is asked for

        planner = make_planner(settings.planner)
        for entry in lines:
            try:
                job = prepare(entry, base, settings, planner)
                target = inside_folder(self.out_dir, job.output, "output")
                # A batch replaces its own outputs when rerun, but never one of its inputs.
                claim_output(target, job.inputs(), overwrite=True, what=f"output {job.output!r}")
                writers.claim(target, f"line {job.line}", job.output)
            except (LayereditError, ValueError) as exc:
                self.invalid.append(LineResult(line=entry.number, status="error", error=str(exc)))
                continue
            jobs.append(job)
        finished = self.ledger.finished()
        self.carried = [
            LineResult(**{**vars(finished[job.key]), "line": job.line, "status": "skipped"})
            for job in jobs
            if job.key in finished
        ]
        self.jobs = [job for job in jobs if job.key not in finished]

    @classmethod
    def from_manifest(cls, manifest: str | Path, out_dir: str | Path, settings: RunSettings) -> Batch:
        manifest = Path(manifest)
        return cls(read_manifest(manifest), manifest.resolve().parent, out_dir, settings)

    def run(self, workers: int | None = None, ray: str | None = None) -> Iterator[LineResult]:
        """Results as lines finish (carried-over and invalid lines first), each recorded as it comes."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.ledger.restart(self.carried)
        yield from self.carried
        for result in self.invalid:
            self.ledger.append(result)
            yield result
        for result in self._execute(workers, ray):
            self.ledger.append(result)
            yield result

    def _execute(self, workers: int | None, ray: str | None) -> Iterator[LineResult]:
        if not self.jobs:
            return iter(())
        if ray is not None:
            from layeredit.batch.ray_runner import run_on_ray

            return run_on_ray(self.jobs, self.settings, self.out_dir.resolve(), workers, ray)
        from layeredit.batch.local import run_here, run_in_processes

        if (workers or 1) == 1:
            return run_here(self.jobs, self.settings, self.out_dir)
        return run_in_processes(self.jobs, self.settings, self.out_dir, workers or 1)


def edit_many(
    items: Iterable[Mapping[str, Any]] | str | Path,
    out_dir: str | Path,
    workers: int | None = None,
    ray: str | bool | None = None,
    engine: str = "pixel",
    model: str | None = None,
    device: str | None = None,
    options: Mapping[str, Any] | None = None,
    llm: str | None = None,
) -> Iterator[LineResult]:
    """Edit many pictures, yielding each line's :class:`LineResult` as it finishes.

    ``items`` is a manifest file (JSON Lines or CSV) or an iterable of dicts with the manifest's
    fields (``image``, ``instruction`` or ``plan``, ``masks``, ``boxes``, ``output``, ``options``);
    relative paths in dicts are relative to the current folder. Edited pictures and
    ``results.jsonl`` go to ``out_dir``; lines finished there by an earlier run with the same inputs
    are skipped. ``workers`` processes share the work (one GPU each); ``ray`` (``True`` or
    ``"auto"`` for a local cluster, else a cluster address) runs on Ray with ``workers`` actors.
    ``options`` are engine settings for every line (``steps``, ``seed``, ``hd_strategy``, ...); a
    line's own win. ``llm`` is the planner that reads the instructions (``PROVIDER:MODEL``; default
    the rules, or ``$LAYEREDIT_LLM``).
    With ``workers`` > 1 the worker processes import the calling script again, so a script must
    start the batch under ``if __name__ == "__main__":``.
    """
    settings = RunSettings(engine, model, device, dict(options or {}), llm)
    if isinstance(items, (str, Path)):
        batch = Batch.from_manifest(items, out_dir, settings)
    else:
        lines = [
            ManifestLine(n, dict(item), check_fields(dict(item))) for n, item in enumerate(items, start=1)
        ]
        batch = Batch(lines, Path.cwd(), out_dir, settings)
    return batch.run(workers, "auto" if ray is True else ray or None)
