"""``layeredit serve`` (web editor and REST API) and ``layeredit mcp`` (tools for MCP clients)."""

from __future__ import annotations

from pathlib import Path

import click

from layeredit.agent.planner_options import PlannerOptions
from layeredit.cli.common import engine_options, perception_options, planner_options
from layeredit.cli.engines import build_engine
from layeredit.cli.serve_options import ServeSettings
from layeredit.cli_options import options_object
from layeredit.engine.designedit.deferred import DeferredDesignEdit
from layeredit.engine.options import EngineOptions
from layeredit.tools.auto import AutomaticResolver
from layeredit.tools.defaults import PerceptionOptions
from layeredit.tools.segmenters import make_point_segmenter


@click.command("serve")
@options_object("serving", ServeSettings)
@planner_options
@perception_options
@engine_options
def serve_command(
    serving: ServeSettings, planner: PlannerOptions, perception: PerceptionOptions, engine: EngineOptions
) -> None:
    """Run the web editor (open http://HOST:PORT/) and the REST API (docs at /docs)."""
    try:
        import uvicorn

        from layeredit.agent.llm import make_planner
        from layeredit.server import create_app
    except ImportError as exc:
        raise click.ClickException(
            f"the server needs the server extra ({exc.name} is missing): pip install 'layeredit[server]'"
        ) from None
    serving.warn_if_exposed()
    chat_planner = make_planner(planner)  # a bad --llm is reported before the server starts
    runner = build_engine(engine)
    if isinstance(runner, DeferredDesignEdit):
        runner.loaded()  # a model that cannot load stops the server before it listens
    click.echo(f"layeredit editor on http://{serving.host}:{serving.port}/ (API docs at /docs)", err=True)
    device = engine.choice.device
    finder = AutomaticResolver.from_options(perception, device)
    text_resolver = None if finder.missing_models() else finder
    clicks = make_point_segmenter(perception.segmenter, perception.sam_model, perception.isnet_model, device)
    app = create_app(
        engine=runner, text_resolver=text_resolver, point_segmenter=clicks, limits=serving.limits(),
        access=serving.access(), storage=serving.storage(), planner=chat_planner, budget=serving.budget(),
        data_dir=serving.data_dir / "sessions",
    )  # fmt: skip
    # SIGTERM: stop taking requests, give open ones a moment, then the running edit is re-queued.
    uvicorn.run(app, host=serving.host, port=serving.port, log_level="info", timeout_graceful_shutdown=3)


@click.command("mcp")
@click.option("--root", type=click.Path(path_type=Path, file_okay=False, exists=True), default=".",
              show_default=True, help="The only folder the tools may read and write files in.")  # fmt: skip
@planner_options
@engine_options
def mcp_command(root: Path, planner: PlannerOptions, engine: EngineOptions) -> None:
    """Serve layeredit's tools (edit_image, segment_objects, plan_edit) to MCP clients over stdio."""
    try:
        from layeredit.integrations.mcp_server import serve
    except ImportError as exc:
        raise click.ClickException(
            f"the MCP server needs the agent extra ({exc.name} is missing): pip install 'layeredit[agent]'"
        ) from None
    serve(engine=build_engine(engine), llm=planner.llm, root=root)
