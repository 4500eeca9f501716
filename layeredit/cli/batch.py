"""``layeredit batch``: every edit of a manifest into a folder, locally or on Ray."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from layeredit.agent.planner_options import PlannerOptions
from layeredit.cli.common import engine_options, planner_options
from layeredit.engine.options import EngineOptions


@click.command("batch")
@click.argument("manifest", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "-o", "--output", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the edited pictures and results.jsonl (a rerun skips the lines done there).",
)  # fmt: skip
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes (one GPU each), or Ray actors.")
@click.option(
    "--ray", is_flag=False, flag_value="auto", metavar="ADDRESS",
    help="Run on Ray: 'auto' (the flag alone) joins or starts a cluster here, else a cluster address.",
)  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Check every line (files, plans, options) and stop.")
@engine_options
@planner_options
def batch_command(
    manifest: Path, out_dir: Path, workers: int | None, ray: str | None, dry_run: bool, engine: EngineOptions,
    planner: PlannerOptions,
) -> None:  # fmt: skip
    """Run every edit of MANIFEST (JSON Lines or CSV, one edit a line) into a folder.

    Options given here apply to every line; a line's own "options" win. Exits with 1 when a line failed.
    """
    from layeredit.batch.command import run_batch
    from layeredit.batch.jobs import RunSettings

    choice = engine.choice
    settings = RunSettings(choice.engine, choice.model, choice.device, engine.tuning(), planner)
    sys.exit(run_batch(manifest, out_dir, settings, workers, ray, dry_run))
