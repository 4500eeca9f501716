"""What ``layeredit batch`` does and prints: a progress bar, failed lines as they happen, a summary."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from layeredit.batch.jobs import RunSettings
from layeredit.batch.ledger import RESULTS_NAME, LineResult
from layeredit.batch.run import Batch

SHOWN_LINES = 10  # line numbers listed in the summary before "..."


def run_batch(
    manifest: Path, out_dir: Path, settings: RunSettings, workers: int | None, ray: str | None, dry_run: bool
) -> int:
    """Run (or with ``dry_run`` only check) a manifest; the exit status is 0 when every line succeeded."""
    batch = Batch.from_manifest(manifest, out_dir, settings)
    for failure in batch.invalid:
        click.echo(f"line {failure.line}: {failure.error}", err=True)
    if dry_run:
        click.echo(
            f"{batch.total} lines checked: {len(batch.jobs)} to run, {len(batch.carried)} already done "
            f"in {out_dir}, {len(batch.invalid)} with problems",
            err=True,
        )
        return 1 if batch.invalid else 0
    results: list[LineResult] = []
    to_run = {job.line for job in batch.jobs}
    with tqdm(total=len(batch.jobs), unit="edit", desc="editing", file=sys.stderr, dynamic_ncols=True) as bar:
        for result in batch.run(workers, ray):
            results.append(result)
            if result.line in to_run:
                bar.update()
                if not result.succeeded:
                    bar.write(f"line {result.line}: {result.error}", file=sys.stderr)
    click.echo(summary(results, out_dir), err=True)
    return 0 if all(result.succeeded for result in results) else 1


def summary(results: list[LineResult], out_dir: Path) -> str:
    skipped = sum(result.status == "skipped" for result in results)
    failed = sorted(result.line for result in results if not result.succeeded)
    text = f"{len(results)} lines: {len(results) - len(failed)} done"
    if skipped:
        text += f" ({skipped} by an earlier run)"
    if failed:
        shown = ", ".join(map(str, failed[:SHOWN_LINES])) + (", ..." if len(failed) > SHOWN_LINES else "")
        text += f", {len(failed)} failed (line{'s' if len(failed) > 1 else ''} {shown})"
    return f"{text}; results in {out_dir / RESULTS_NAME}"
