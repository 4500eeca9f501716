"""``layeredit mcp``: the agent tools over the Model Context Protocol (stdio, official SDK).

``edit_image`` answers with the edited image as an image content item plus the plan as JSON text.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from layeredit.admission.roots import FileScope
from layeredit.errors import user_message
from layeredit.integrations import agent_tools
from layeredit.integrations.agent_tools import (
    DecomposeImageArgs,
    EditImageArgs,
    PlanEditArgs,
    SegmentObjectsArgs,
)
from layeredit.integrations.mcp_stdin import guard_stdin

INSTRUCTIONS = (
    "layeredit edits photos from plain-English instructions. Call edit_image with the photo's path, "
    "the instruction and a mask or box for every object the instruction names; segment_objects can "
    "make the masks when detection models are installed; plan_edit shows how an instruction is read."
)


def _tool_function(model: type[BaseModel], run: Callable[[Any], Any], returns: Any) -> Callable[..., Any]:
    """A tool function whose parameters are the fields of ``model``, the argument model the
    LangChain tools share (the MCP schema is read from the signature); it calls ``run`` with the
    arguments as that model."""

    def call(**arguments: Any) -> Any:
        with _user_errors():
            return run(model(**arguments))

    required = inspect.Parameter.empty
    call.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY,
                default=required if info.is_required() else info.get_default(call_default_factory=True),
                annotation=Annotated[info.annotation, Field(description=info.description)],
            )
            for name, info in model.model_fields.items()
        ],
        return_annotation=returns,
    )  # fmt: skip
    return call


def build_server(engine: Any = "pixel", llm: str | None = None, root: str | Path = ".") -> MCPServer:
    """The MCP server; its tools read and write files only under ``root``."""
    from layeredit.api import resolve_engine

    scope = FileScope(root)
    shared_engine = resolve_engine(engine)
    server = MCPServer("layeredit", instructions=INSTRUCTIONS)

    def edit_image(args: EditImageArgs) -> list[Any]:
        done = agent_tools.edit_image(args, shared_engine, llm, scope)
        return [Image(path=Path(done["output_path"])), json.dumps(done)]

    tools = (
        ("edit_image", agent_tools.EDIT_IMAGE_DESCRIPTION, EditImageArgs, edit_image, list[Any]),
        ("segment_objects", agent_tools.SEGMENT_OBJECTS_DESCRIPTION, SegmentObjectsArgs,
         lambda args: json.dumps(agent_tools.segment_objects(args, scope)), str),
        ("plan_edit", agent_tools.PLAN_EDIT_DESCRIPTION, PlanEditArgs,
         lambda args: json.dumps(agent_tools.plan_edit(args, llm, scope)), str),
        ("decompose_image", agent_tools.DECOMPOSE_IMAGE_DESCRIPTION, DecomposeImageArgs,
         lambda args: json.dumps(agent_tools.decompose_image(args, shared_engine, scope)), str),
    )  # fmt: skip
    for name, description, model, run, returns in tools:
        # edit_image answers with content items (an image and text), not a JSON document.
        structured = None if returns is str else False
        server.tool(name=name, description=description, structured_output=structured)(
            _tool_function(model, run, returns)
        )
    return server


@contextmanager
def _user_errors() -> Iterator[None]:
    """A mistake the calling model can fix comes back as a tool error with a one-line message."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - the agent gets the CLI's one line, bug or not
        raise ToolError(user_message(exc)) from None


def serve(engine: Any = "pixel", llm: str | None = None, root: str | Path = ".") -> None:
    """Serve on stdin/stdout until the client disconnects; malformed lines get JSON-RPC errors."""
    server = build_server(engine, llm, root)
    guard_stdin()
    server.run("stdio")
