"""``layeredit decompose``, ``compose`` and ``segment``: objects as layers and masks people take away."""

from __future__ import annotations

from pathlib import Path

import click

from layeredit.admission.outputs import claim_folder, claim_output
from layeredit.cli.common import (
    box_option,
    device_option,
    engine_options,
    mask_option,
    overwrite_option,
    parse_boxes,
    parse_masks,
    parse_pairs,
    perception_options,
)
from layeredit.cli.engines import build_engine
from layeredit.engine.options import EngineOptions
from layeredit.errors import ModelLoadError
from layeredit.imageio import check_writable, load_image, save_image
from layeredit.layered import DEFAULT_MAX_LAYERS, compose, decompose, scene_changes
from layeredit.layerfile import claim_scene_output, read_scene, scene_inputs, scene_kind
from layeredit.tools.auto import AutomaticResolver, how_to_get
from layeredit.tools.defaults import PerceptionOptions
from layeredit.tools.resolve import TargetNotFoundError


@click.command("decompose")
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
@box_option
@click.option("--auto", is_flag=True, help="Also find the salient objects by detection.")
@click.option(
    "--max-layers",
    type=click.IntRange(1, 64),
    default=DEFAULT_MAX_LAYERS,
    show_default=True,
    help="Most object layers to write.",
)
@click.option("--hard-edges", is_flag=True, help="Cut objects along their masks; no alpha matting.")
@overwrite_option
@perception_options
@engine_options
def decompose_command(
    image: Path, phrases: tuple[str, ...], output: Path, masks: tuple[str, ...], boxes: tuple[str, ...],
    auto: bool, max_layers: int, hard_edges: bool, overwrite: bool, perception: PerceptionOptions,
    engine: EngineOptions,
) -> None:  # fmt: skip
    """Split IMAGE into a clean background plate and one layer per object (PHRASE, --mask, --box
    or --auto), written as a .psd, an .ora or a folder of PNG layers with scene.json."""
    if not scene_kind(output):
        raise click.BadParameter("use OUT.psd, OUT.ora or a folder name without a suffix", param_hint="-o")
    load_image(image)  # a bad image is reported before any model loads
    named = parse_masks(masks)
    claim_scene_output(output, [image, *named.values()], overwrite, "-o")
    runner = build_engine(engine)
    finder = AutomaticResolver.from_options(perception, engine.choice.device)
    result = decompose(image, phrases, named, parse_boxes(boxes), auto, max_layers, runner,
                       soft_edges=not hard_edges, resolver=finder)  # fmt: skip
    result.save(output, overwrite)
    names = ", ".join(item.name for item in result.record.found)
    count = len(result.record.found)
    click.echo(f"wrote {output}: background + {count} layer{'s' * (count != 1)} ({names})", err=True)


@click.command("compose")
@click.argument("scene", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the picture (format from the suffix).",
)
@click.option("--plan-only", is_flag=True, help="Print the edit plan the layer changes make and stop.")
@overwrite_option
@engine_options
def compose_command(
    scene: Path, output: Path | None, plan_only: bool, overwrite: bool, engine: EngineOptions
) -> None:
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
    result = compose(layered, build_engine(engine))
    save_image(result.image, output)
    summary = result.plan.summary() if result.plan else "no layer changed"
    if result.ignored:
        names = ", ".join(repr(name) for name in result.ignored)
        click.echo(f"ignored layers not written by decompose (added or renamed): {names}", err=True)
    click.echo(f"plan: {summary}\nwrote {output}", err=True)


@click.command("segment")
@click.argument("image", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("phrases", nargs=-1)
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for one mask PNG per phrase and overlay.png.",
)
@click.option("--point", "points", multiple=True, metavar="NAME=X,Y",
              help="Also cut out the object under pixel X,Y (repeatable).")  # fmt: skip
@click.option("--box", "boxes", multiple=True, metavar="NAME=x0,y0,x1,y1",
              help="Also cut out the object inside this box (repeatable).")  # fmt: skip
@overwrite_option
@perception_options
@device_option
def segment_command(
    image: Path, phrases: tuple[str, ...], out_dir: Path, points: tuple[str, ...], boxes: tuple[str, ...],
    overwrite: bool, perception: PerceptionOptions, device: str | None,
) -> None:  # fmt: skip
    """Find each PHRASE in IMAGE ("cat", "the lamp on the left") and write its mask; --point and
    --box cut out objects marked by a click or a box, without the detector.

    overlay.png shows what was picked: boxes, labels, scores and tinted masks.
    """
    from layeredit.agent import RulePlanner
    from layeredit.tools.segment import mark_objects, segment_image

    pairs = parse_pairs(points, "--point", "ball=120,80")
    named_points = {name: _parse_point(name, text) for name, text in pairs.items()}
    named_boxes = parse_boxes(boxes)
    if not (phrases or named_points or named_boxes):
        raise click.UsageError("name what to segment: PHRASE..., --point NAME=X,Y or --box NAME=x0,y0,x1,y1")
    claim_folder(out_dir, [image], overwrite, "-o")
    pixels = load_image(image)  # a bad image is reported before any model loads
    finder = AutomaticResolver.from_options(perception, device)
    if phrases and finder.missing_models():
        raise ModelLoadError(f"segmenting by name needs the models: {how_to_get(finder.missing_models())}")
    marked = {}
    if named_points or named_boxes:
        marked = mark_objects(pixels, named_points, named_boxes, finder.make_segmenter())
    targets = [RulePlanner().target(phrase) for phrase in phrases]
    out_dir.mkdir(parents=True, exist_ok=True)
    result = segment_image(image, targets, out_dir, finder, marked)
    for key, path in result.masks.items():
        click.echo(f"{key}: {path}")
    if result.overlay is not None:
        click.echo(f"overlay: {result.overlay}")
    if result.missing:
        raise TargetNotFoundError("; ".join(result.missing.values()))


def _parse_point(name: str, text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        x, y = (float(part) for part in parts)
    except ValueError:
        raise click.BadParameter(
            f"{name}={text!r}: expected two numbers X,Y like {name}=120,80", param_hint="--point"
        ) from None
    return x, y
