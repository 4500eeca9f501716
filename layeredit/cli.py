"""The ``layeredit`` command."""

from __future__ import annotations

import functools
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from layeredit.agent.planner_options import PlannerOptions
from layeredit.api import Box, edit
from layeredit.cli_options import build_params, dataclass_options, grouped_options
from layeredit.engine.base import EditResult, Engine, ProgressCallback
from layeredit.engine.designedit.config import DEFAULT_MODEL, DesignEditConfig
from layeredit.engine.layers import LayerStack
from layeredit.engine.pixel import PixelEngine
from layeredit.engine.resolution import ResolutionParams
from layeredit.engine.scene import Scene, SceneParams
from layeredit.errors import LayereditError, ModelLoadError, debugging, error_text, user_message
from layeredit.export import write_layers
from layeredit.hints import COMMAND_LINE, speaking
from layeredit.imageio import MAX_SIDE, check_writable, load_image, save_image
from layeredit.plan import EditPlan
from layeredit.serve_options import ServeSettings, serve_access_options
from layeredit.tools.auto import (
    DEFAULT_BOX_THRESHOLD,
    DEFAULT_GROUNDING_MODEL,
    DEFAULT_SAM_MODEL,
    DEFAULT_TEXT_THRESHOLD,
    AutomaticResolver,
    cached_on_this_machine,
    how_to_get,
)
from layeredit.tools.masks import MaskError
from layeredit.tools.resolve import TargetNotFoundError, parse_box

if TYPE_CHECKING:
    from layeredit.engine.designedit import DesignEditEngine


def _parse_pairs(values: tuple[str, ...], flag: str, example: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise click.BadParameter(f"expected NAME=VALUE like {example}, got {value!r}", param_hint=flag)
        pairs[name.strip()] = rest.strip()
    return pairs


def _parse_boxes(values: tuple[str, ...]) -> dict[str, Box]:
    boxes: dict[str, Box] = {}
    for name, text in _parse_pairs(values, "--box", "cat=10,20,200,240").items():
        try:
            boxes[name] = parse_box(name, text.split(","))
        except MaskError as exc:
            raise click.BadParameter(str(exc), param_hint="--box") from None
    return boxes


def _parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise click.BadParameter(
            f"expected WIDTHxHEIGHT like 1024x768, got {text!r}", param_hint="--size"
        ) from None
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise click.BadParameter(f"width and height must be between 1 and {MAX_SIDE}", param_hint="--size")
    return width, height


mask_option = click.option(
    "--mask",
    "masks",
    multiple=True,
    metavar="NAME=PATH",
    help="Mask image for an object (white = object), e.g. --mask cat=cat.png. Repeatable.",
)


engine_option = click.option(
    "--engine",
    type=click.Choice(["pixel", "designedit"]),
    default="pixel",
    show_default=True,
    help="pixel: OpenCV inpainting, no weights; designedit: layered-latent diffusion.",
)


planner_options = grouped_options(PlannerOptions, "planner")


device_option = click.option(
    "--device", help="Torch device for the models, such as cuda, cuda:1 or cpu [default: cuda if available]."
)


model_option = click.option(
    "--model",
    metavar="ID_OR_PATH",
    help=f"designedit: diffusers model, hub id or local folder [default: {DEFAULT_MODEL}].",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="layeredit")
def cli() -> None:
    """Edit photos from plain-language instructions."""


PERCEPTION_FLAGS = ("grounding_model", "sam_model", "box_threshold", "text_threshold")


def perception_options(command: Callable) -> Callable:
    """Flags for the models that find objects named without a mask.

    The command receives them together as ``finding``, keyword arguments of AutomaticResolver.
    """

    @functools.wraps(command)
    def with_finding(**options: Any) -> Any:
        finding = {flag: options.pop(flag) for flag in PERCEPTION_FLAGS}
        return command(finding=finding, **options)

    unit = click.FloatRange(0.0, 1.0)
    for option in (
        click.option("--text-threshold", type=unit, default=DEFAULT_TEXT_THRESHOLD, show_default=True,
                     help="Least confidence that a detected box is the phrase."),
        click.option("--box-threshold", type=unit, default=DEFAULT_BOX_THRESHOLD, show_default=True,
                     help="Least confidence for a detected box."),
        click.option("--sam-model", metavar="ID_OR_PATH",
                     help=f"Segment Anything: hub id, local folder or .pth [default: {DEFAULT_SAM_MODEL}]."),
        click.option("--grounding-model", metavar="ID_OR_PATH",
                     help=f"Text-grounding detector: hub id or folder [default: {DEFAULT_GROUNDING_MODEL}]."),
    ):  # fmt: skip
        with_finding = option(with_finding)
    return with_finding


def build_engine(
    name: str, model: str | None, device: str | None, refine_mask: Path | None, tuning: dict[str, Any]
) -> Engine:
    """The engine the options ask for; diffusion-only options with the pixel engine are a mistake."""
    params = build_params(SceneParams, tuning)
    if name == "pixel":
        diffusion_only = [
            f"--{flag.replace('_', '-')}"
            for flag, value in {"model": model, "refine_mask": refine_mask, **tuning}.items()
            if value is not None and not hasattr(params, flag)
        ]
        if diffusion_only:
            raise click.UsageError(f"{', '.join(diffusion_only)} only apply to --engine designedit")
        return PixelEngine(params)
    config = build_params(DesignEditConfig, tuning)
    return DeferredDesignEdit(model or DEFAULT_MODEL, device, config, params)


class DeferredDesignEdit:
    """Loads the diffusion model on first use, so bad input is reported before minutes of loading."""

    name = "designedit"

    def __init__(self, model: str, device: str | None, config: DesignEditConfig, params: SceneParams):
        self.model, self.device, self.config, self.params = model, device, config, params
        self._engine: DesignEditEngine | None = None

    def loaded(self) -> DesignEditEngine:
        if self._engine is None:
            from layeredit.engine.designedit import DesignEditEngine, load_pipeline

            pipe = load_pipeline(self.model, self.device)
            self._engine = DesignEditEngine(pipe, self.config, model_id=self.model, params=self.params)
        return self._engine

    @property
    def working_side(self) -> int:
        return self.loaded().working_side

    def run(self, stack: LayerStack, plan: EditPlan, progress: ProgressCallback | None = None) -> EditResult:
        return self.loaded().run(stack, plan, progress)

    def run_scene(
        self, scene: Scene, plan: EditPlan, progress: ProgressCallback | None = None, full_size: bool = False
    ) -> EditResult:
        return self.loaded().run_scene(scene, plan, progress, full_size)


@cli.command("edit")
@click.argument("image", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("instruction")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the edited image (format from the suffix).",
)
@mask_option
@click.option(
    "--box",
    "boxes",
    multiple=True,
    metavar="NAME=x0,y0,x1,y1",
    help="Box around an object, in pixels, used as its mask. Repeatable.",
)
@engine_option
@click.option(
    "--save-layers",
    type=click.Path(path_type=Path, file_okay=False),
    help="Also write every layer as an RGBA PNG, layers.psd, layers.ora and the plan into this folder.",
)
@click.option("--plan-only", is_flag=True, help="Print the edit plan as JSON and stop.")
@planner_options
@model_option
@device_option
@click.option(
    "--refine-mask",
    type=click.Path(path_type=Path, dir_okay=False),
    help="designedit: mask of features beside a removed object (e.g. lettering) to keep out of its hole.",
)
@perception_options
@dataclass_options(SceneParams)
@dataclass_options(DesignEditConfig)
@dataclass_options(ResolutionParams)
def edit_command(
    image: Path,
    instruction: str,
    output: Path | None,
    masks: tuple[str, ...],
    boxes: tuple[str, ...],
    engine: str,
    save_layers: Path | None,
    plan_only: bool,
    planner: PlannerOptions,
    model: str | None,
    device: str | None,
    refine_mask: Path | None,
    finding: dict[str, Any],
    **tuning: Any,
) -> None:
    """Edit IMAGE as INSTRUCTION says ("move the cat left and remove the lamp")."""
    named = _parse_pairs(masks, "--mask", "cat=cat.png")
    parsed_boxes = _parse_boxes(boxes)
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
    check_writable(output)
    hd = build_params(ResolutionParams, tuning)
    tuning = {name: value for name, value in tuning.items() if not hasattr(hd, name)}
    runner = build_engine(engine, model, device, refine_mask, tuning)
    finder = AutomaticResolver(device=device, **finding)
    result = edit(
        image, plan, masks=named, boxes=parsed_boxes, engine=runner, refine_mask=refine_mask, resolver=finder,
        hd_strategy=hd,
    )
    save_image(result.image, output)
    click.echo(f"plan: {result.plan.summary()}", err=True)
    if save_layers is not None:
        write_layers(result, save_layers)
        click.echo(f"layers: {len(result.layers)} written to {save_layers}", err=True)
    stats = result.stats
    how = f", {stats['hd_strategy']} at {stats['hd_size']}" if "hd_strategy" in stats else ""
    click.echo(f"wrote {output} ({result.timings['total']:.2f} s{how})", err=True)


@cli.command("batch")
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
@engine_option
@click.option("--model", metavar="ID_OR_PATH", help=f"designedit: diffusers model [{DEFAULT_MODEL}].")
@device_option
@planner_options
@dataclass_options(SceneParams)
@dataclass_options(DesignEditConfig, skip=("progress_bar",))
def batch_command(
    manifest: Path, out_dir: Path, workers: int | None, ray: str | None, dry_run: bool, engine: str,
    model: str | None, device: str | None, planner: PlannerOptions, **tuning: Any,
) -> None:  # fmt: skip
    """Run every edit of MANIFEST (JSON Lines or CSV, one edit a line) into a folder.

    Options given here apply to every line; a line's own "options" win. Exits with 1 when a line failed.
    """
    from layeredit.batch.command import run_batch
    from layeredit.batch.jobs import RunSettings

    options = {name: value for name, value in tuning.items() if value is not None}
    settings = RunSettings(engine, model, device, options, planner)
    sys.exit(run_batch(manifest, out_dir, settings, workers, ray, dry_run))


@cli.command("plan")
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

    image_size = _parse_size(size)
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


@cli.command("chat")
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
@engine_option
@planner_options
@model_option
@device_option
@perception_options
@dataclass_options(SceneParams)
@dataclass_options(DesignEditConfig)
@click.option("--root", type=click.Path(path_type=Path, file_okay=False, exists=True), default=".",
              show_default=True, help="The only folder 'save', 'mask' and inserts may use.")  # fmt: skip
def chat_command(
    image: Path | None,
    resume: Path | None,
    session_dir: Path | None,
    masks: tuple[str, ...],
    engine: str,
    planner: PlannerOptions,
    model: str | None,
    device: str | None,
    finding: dict[str, Any],
    root: Path,
    **tuning: Any,
) -> None:
    """Edit IMAGE turn after turn; type 'help' for the commands. Reads lines from standard input."""
    from layeredit.agent.chat import open_chat

    named = _parse_pairs(masks, "--mask", "cat=cat.png")
    if (image is None) == (resume is None):
        raise click.UsageError("give either IMAGE (a new chat) or --resume DIR (continue a chat)")
    runner = build_engine(engine, model, device, None, tuning)
    finder = AutomaticResolver(device=device, **finding)
    open_chat(image, resume, session_dir, named, runner, planner, finder, root)


@cli.command("mcp")
@click.option("--root", type=click.Path(path_type=Path, file_okay=False, exists=True), default=".",
              show_default=True, help="The only folder the tools may read and write files in.")  # fmt: skip
def mcp_command(root: Path) -> None:
    """Serve layeredit's tools (edit_image, segment_objects, plan_edit) to MCP clients over stdio."""
    try:
        from layeredit.integrations.mcp_server import serve
    except ImportError as exc:
        raise click.ClickException(
            f"the MCP server needs the agent extra ({exc.name} is missing): pip install 'layeredit[agent]'"
        ) from None
    serve(root=root)


@cli.command("segment")
@click.argument("image", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("phrases", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for one mask PNG per phrase and overlay.png.",
)
@perception_options
@device_option
def segment_command(
    image: Path, phrases: tuple[str, ...], out_dir: Path, finding: dict[str, Any],
    device: str | None,
) -> None:  # fmt: skip
    """Find each PHRASE in IMAGE ("cat", "the lamp on the left") and write its mask.

    overlay.png shows what was picked: boxes, labels, scores and tinted masks.
    """
    from layeredit.agent import RulePlanner
    from layeredit.tools.segment import segment_image

    load_image(image)  # a bad image is reported before any model loads
    finder = AutomaticResolver(device=device, **finding)
    if finder.missing_models():
        raise ModelLoadError(f"segmenting by name needs the models: {how_to_get(finder.missing_models())}")
    targets = [RulePlanner().target(phrase) for phrase in phrases]
    out_dir.mkdir(parents=True, exist_ok=True)
    result = segment_image(image, targets, out_dir, finder)
    for key, path in result.masks.items():
        click.echo(f"{key}: {path}")
    if result.overlay is not None:
        click.echo(f"overlay: {result.overlay}")
    if result.missing:
        raise TargetNotFoundError("; ".join(result.missing.values()))


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@engine_option
@planner_options
@perception_options
@device_option
@serve_access_options
def serve_command(
    host: str, port: int, engine: str, planner: PlannerOptions, finding: dict[str, Any], device: str | None,
    serving: ServeSettings,
) -> None:  # fmt: skip
    """Run the web editor (open http://HOST:PORT/) and the REST API (docs at /docs)."""
    try:
        import uvicorn

        from layeredit.agent.llm import make_planner
        from layeredit.server import create_app
    except ImportError as exc:
        raise click.ClickException(
            f"the server needs the server extra ({exc.name} is missing): pip install 'layeredit[server]'"
        ) from None
    serving.warn_if_exposed(host)
    chat_planner = make_planner(planner)  # a bad --llm is reported before the server starts
    click.echo(f"layeredit editor on http://{host}:{port}/ (API docs at /docs)", err=True)
    finder = AutomaticResolver(device=device, **finding)
    text_resolver = None if finder.missing_models() else finder
    clicks = None  # without Segment Anything the server falls back to GrabCut
    if finding["sam_model"] or cached_on_this_machine(DEFAULT_SAM_MODEL):
        from layeredit.server.points import SamPointSegmenter
        from layeredit.tools.segmentation import make_segmenter

        clicks = SamPointSegmenter(make_segmenter(finding["sam_model"], device))
    app = create_app(
        engine=engine, text_resolver=text_resolver, point_segmenter=clicks, limits=serving.limits(),
        access=serving.access(), storage=serving.storage(), planner=chat_planner,
        data_dir=serving.data_dir / "sessions",
    )  # fmt: skip
    # SIGTERM: stop taking requests, give open ones a moment, then the running edit is re-queued.
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=3)


from layeredit.cli_layers import register as register_layer_commands  # noqa: E402

register_layer_commands(cli)


def main() -> None:
    """Entry point: user mistakes end in one clear line and exit code 2, never a traceback."""
    try:
        with speaking(COMMAND_LINE):
            cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except (LayereditError, OSError) as exc:
        if debugging():
            traceback.print_exc()
        click.echo(user_message(exc), err=True)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - the last line of defence for the user's terminal
        if debugging():
            traceback.print_exc()
        click.echo(user_message(exc), err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
