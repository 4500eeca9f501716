"""``layeredit decompose`` and ``layeredit compose``: layers people take away and bring back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from layeredit.admission.outputs import claim_output
from layeredit.layered import DEFAULT_MAX_LAYERS, compose, decompose, scene_changes
from layeredit.layerfile import claim_scene_output, read_scene, scene_inputs, scene_kind


def register(cli: click.Group) -> None:
    """Add both commands to the ``layeredit`` group, with the options its other commands share."""
    from layeredit.cli import (
        _parse_boxes,
        _parse_pairs,
        build_engine,
        device_option,
        engine_option,
        mask_option,
        perception_options,
    )
    from layeredit.imageio import check_writable, load_image, save_image
    from layeredit.tools.auto import AutomaticResolver

    model_option = click.option(
        "--model", metavar="ID_OR_PATH", help="designedit: diffusers model, hub id or local folder."
    )

    @cli.command("decompose")
    @click.argument("image", type=click.Path(path_type=Path, dir_okay=False))
    @click.argument("phrases", nargs=-1)
    @click.option(
        "-o",
        "--output",
        required=True,
        type=click.Path(path_type=Path),
        help="OUT.psd, OUT.ora, or a folder (no suffix) of PNG layers with scene.json.",
    )
    @mask_option
    @click.option(
        "--box",
        "boxes",
        multiple=True,
        metavar="NAME=x0,y0,x1,y1",
        help="Box around an object, in pixels, used as its mask. Repeatable.",
    )
    @click.option("--auto", is_flag=True, help="Also find the salient objects by detection.")
    @click.option(
        "--max-layers",
        type=click.IntRange(1, 64),
        default=DEFAULT_MAX_LAYERS,
        show_default=True,
        help="Most object layers to write.",
    )
    @click.option("--hard-edges", is_flag=True, help="Cut objects along their masks; no alpha matting.")
    @click.option("--overwrite", is_flag=True, help="Replace an existing output (never an input).")
    @engine_option
    @model_option
    @perception_options
    @device_option
    def decompose_command(
        image: Path, phrases: tuple[str, ...], output: Path, masks: tuple[str, ...], boxes: tuple[str, ...],
        auto: bool, max_layers: int, hard_edges: bool, overwrite: bool, engine: str, model: str | None,
        finding: dict[str, Any], device: str | None,
    ) -> None:  # fmt: skip
        """Split IMAGE into a clean background plate and one layer per object (PHRASE, --mask, --box
        or --auto), written as a .psd, an .ora or a folder of PNG layers with scene.json."""
        if not scene_kind(output):
            raise click.BadParameter(
                "use OUT.psd, OUT.ora or a folder name without a suffix", param_hint="-o"
            )
        load_image(image)  # a bad image is reported before any model loads
        named = _parse_pairs(masks, "--mask", "cat=cat.png")
        claim_scene_output(output, [image, *named.values()], overwrite, "-o")
        runner = build_engine(engine, model, device, None, {})
        finder = AutomaticResolver(device=device, **finding)
        result = decompose(image, phrases, named, _parse_boxes(boxes), auto, max_layers, runner,
                           soft_edges=not hard_edges, resolver=finder)  # fmt: skip
        result.save(output)
        names = ", ".join(item.name for item in result.record.found)
        count = len(result.record.found)
        click.echo(f"wrote {output}: background + {count} layer{'s' * (count != 1)} ({names})", err=True)

    @cli.command("compose")
    @click.argument("scene", type=click.Path(path_type=Path))
    @click.option(
        "-o",
        "--output",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Where to write the picture (format from the suffix).",
    )
    @click.option("--plan-only", is_flag=True, help="Print the edit plan the layer changes make and stop.")
    @click.option("--overwrite", is_flag=True, help="Replace an existing output (never an input).")
    @engine_option
    @model_option
    @device_option
    def compose_command(
        scene: Path, output: Path | None, plan_only: bool, overwrite: bool, engine: str, model: str | None,
        device: str | None,
    ) -> None:  # fmt: skip
        """Render SCENE (a .psd, .ora or folder from decompose, its layers moved, resized, reordered,
        hidden or deleted in any editor) as one picture through the engine."""
        layered = read_scene(scene)
        if plan_only:
            plan, _ = scene_changes(layered)
            click.echo(plan.to_json(indent=2) if plan else '{"operations": []}')
            return
        if output is None:
            raise click.UsageError("give the output path with -o OUT.png (or use --plan-only)")
        check_writable(claim_output(output, scene_inputs(scene), overwrite, "-o"))
        result = compose(layered, build_engine(engine, model, device, None, {}))
        save_image(result.image, output)
        summary = result.plan.summary() if result.plan else "no layer changed"
        if result.ignored:
            names = ", ".join(repr(name) for name in result.ignored)
            click.echo(f"ignored layers not written by decompose (added or renamed): {names}", err=True)
        click.echo(f"plan: {summary}\nwrote {output}", err=True)
