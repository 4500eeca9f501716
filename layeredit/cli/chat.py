"""``layeredit chat``: edit a picture turn after turn from lines on standard input."""

from __future__ import annotations

from pathlib import Path

import click

from layeredit.agent.planner_options import PlannerOptions
from layeredit.cli.common import engine_options, mask_option, parse_masks, perception_options, planner_options
from layeredit.cli.engines import build_engine
from layeredit.engine.options import EngineOptions
from layeredit.tools.auto import AutomaticResolver
from layeredit.tools.defaults import PerceptionOptions


@click.command("chat")
@click.argument("image", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--resume",
    type=click.Path(path_type=Path, file_okay=False),
    help="Continue the chat session saved in this folder (IMAGE is then not needed).",
)
@click.option(
    "--session-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to keep the new session in (default: IMAGE-STEM.chat in the current folder).",
)
@mask_option
@planner_options
@perception_options
@engine_options
@click.option("--root", type=click.Path(path_type=Path, file_okay=False, exists=True), default=".",
              show_default=True, help="The only folder 'save', 'mask' and inserts may use.")  # fmt: skip
def chat_command(
    image: Path | None,
    resume: Path | None,
    session_dir: Path | None,
    masks: tuple[str, ...],
    planner: PlannerOptions,
    perception: PerceptionOptions,
    engine: EngineOptions,
    root: Path,
) -> None:
    """Edit IMAGE turn after turn; type 'help' for the commands. Reads lines from standard input."""
    from layeredit.agent.chat import open_chat

    named = parse_masks(masks)
    if (image is None) == (resume is None):
        raise click.UsageError("give either IMAGE (a new chat) or --resume DIR (continue a chat)")
    runner = build_engine(engine)
    finder = AutomaticResolver.from_options(perception, engine.choice.device)
    open_chat(image, resume, session_dir, named, runner, planner, finder, root, engine.resolution)
