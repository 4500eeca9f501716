"""``layeredit edit`` and ``layeredit plan``: one instruction, one picture (or only its plan)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from layeredit.admission.outputs import claim_folder, claim_output
from layeredit.agent.planner_options import PlannerOptions
from layeredit.api import edit
from layeredit.cli.common import (
    box_option,
    engine_options,
    mask_option,
    overwrite_option,
    parse_boxes,
    parse_masks,
    parse_size,
    perception_options,
    planner_options,
)
from layeredit.cli.engines import build_engine
from layeredit.engine.options import EngineOptions
from layeredit.errors import LayereditError, error_text
from layeredit.export import write_layers
from layeredit.imageio import check_writable, load_image, save_image
from layeredit.plan import EditPlan
from layeredit.tools.auto import AutomaticResolver
from layeredit.tools.defaults import PerceptionOptions


@click.command("edit")
@click.argument("image", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("instruction")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the edited image (format from the suffix).",
)
@mask_option
@box_option
@click.option(
    "--save-layers",
    type=click.Path(path_type=Path, file_okay=False),
    help="Also write every layer as an RGBA PNG, layers.psd, layers.ora and the plan into this folder.",
)
@click.option("--plan-only", is_flag=True, help="Print the edit plan as JSON and stop.")
@planner_options
@click.option(
    "--refine-mask",
    type=click.Path(path_type=Path, dir_okay=False),
    help="designedit: mask of features beside a removed object (e.g. lettering) to keep out of its hole.",
)
@overwrite_option
@perception_options
@engine_options
def edit_command(
    image: Path,
    instruction: str,
    output: Path | None,
    masks: tuple[str, ...],
    boxes: tuple[str, ...],
    save_layers: Path | None,
    plan_only: bool,
    planner: PlannerOptions,
    refine_mask: Path | None,
    overwrite: bool,
    perception: PerceptionOptions,
    engine: EngineOptions,
) -> None:
    """Edit IMAGE as INSTRUCTION says ("move the cat left and remove the lamp")."""
    named = parse_masks(masks)
    parsed_boxes = parse_boxes(boxes)
    plan: str | EditPlan = instruction
    if plan_only or planner.spec != "rules":
        from layeredit.agent.llm import plan_instruction

        pixels = load_image(image)
        plan = plan_instruction(instruction, (pixels.shape[1], pixels.shape[0]), planner, pixels)
    if plan_only:
        click.echo(plan.to_json(indent=2))
        return
    if output is None:
        raise click.UsageError("give the output path with -o OUT.png (or use --plan-only)")
    inputs = [image, *named.values(), *([refine_mask] if refine_mask else [])]
    check_writable(claim_output(output, inputs, overwrite, "-o"))
    if save_layers is not None:
        claim_folder(save_layers, inputs, overwrite, "--save-layers")
    runner = build_engine(engine)
    finder = AutomaticResolver.from_options(perception, engine.choice.device)
    result = edit(
        image, plan, masks=named, boxes=parsed_boxes, engine=runner, refine_mask=refine_mask, resolver=finder,
        hd_strategy=engine.resolution,
    )
    save_image(result.image, output)
    click.echo(f"plan: {result.plan.summary()}", err=True)
    if save_layers is not None:
        write_layers(result, save_layers)
        click.echo(f"layers: {len(result.layers)} written to {save_layers}", err=True)
    stats = result.stats
    how = f", {stats['hd_strategy']} at {stats['hd_size']}" if "hd_strategy" in stats else ""
    click.echo(f"wrote {output} ({result.timings['total']:.2f} s{how})", err=True)


@click.command("plan")
@click.argument("instruction")
@click.option(
    "--size",
    default="1000x1000",
    show_default=True,
    help="Image size WIDTHxHEIGHT, used to convert pixel amounts.",
)
@planner_options
def plan_command(instruction: str, size: str, planner: PlannerOptions) -> None:
    """Print the edit plan for INSTRUCTION as JSON.

    With INSTRUCTION '-', read one instruction per line from standard input and print one JSON
    plan per line ({"error": "..."} for a line that cannot be understood).
    """
    from layeredit.agent.llm import plan_instruction

    image_size = parse_size(size)
    if instruction != "-":
        click.echo(plan_instruction(instruction, image_size, planner).to_json(indent=2))
        return
    for line in sys.stdin:
        text = line.strip()
        if not text:
            continue
        try:
            click.echo(plan_instruction(text, image_size, planner).to_json())
        except LayereditError as exc:
            click.echo(json.dumps({"error": error_text(exc)}))
