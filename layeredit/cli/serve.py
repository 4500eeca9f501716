"""``layeredit serve`` (web editor and REST API) and ``layeredit mcp`` (tools for MCP clients)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from layeredit.agent.planner_options import PlannerOptions
from layeredit.cli.common import device_option, engine_option, perception_options, planner_options
from layeredit.serve_options import ServeSettings, serve_access_options
from layeredit.tools.auto import AutomaticResolver, cached_on_this_machine
from layeredit.tools.defaults import DEFAULT_SAM_MODEL


@click.command("serve")
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
        from layeredit.tools.points import SamPointSegmenter
        from layeredit.tools.segmentation import make_segmenter

        clicks = SamPointSegmenter(make_segmenter(finding["sam_model"], device))
    app = create_app(
        engine=engine, text_resolver=text_resolver, point_segmenter=clicks, limits=serving.limits(),
        access=serving.access(), storage=serving.storage(), planner=chat_planner,
        data_dir=serving.data_dir / "sessions",
    )  # fmt: skip
    # SIGTERM: stop taking requests, give open ones a moment, then the running edit is re-queued.
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=3)


@click.command("mcp")
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
