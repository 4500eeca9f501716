"""``layeredit mcp``: the agent tools over the Model Context Protocol (stdio, official SDK).

``edit_image`` answers with the edited image as an image content item plus the plan as JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from layeredit.engine.resolution import DEFAULT_HD_STRATEGY
from layeredit.errors import user_message
from layeredit.integrations import agent_tools
from layeredit.integrations.agent_tools import (
    DecomposeImageArgs,
    EditImageArgs,
    PlanEditArgs,
    SegmentObjectsArgs,
)
from layeredit.integrations.mcp_stdin import guard_stdin
from layeredit.scope import FileScope

INSTRUCTIONS = (
    "layeredit edits photos from plain-English instructions. Call edit_image with the photo's path, "
    "the instruction and a mask or box for every object the instruction names; segment_objects can "
    "make the masks when detection models are installed; plan_edit shows how an instruction is read."
)


def _described(model: type[Any], name: str) -> Any:
    """A parameter annotation carrying the field description of the shared argument model."""
    field = model.model_fields[name]
    return Annotated[field.annotation, Field(description=field.description)]


def build_server(engine: Any = "pixel", llm: str | None = None, root: str | Path = ".") -> MCPServer:
    """The MCP server; its tools read and write files only under ``root``."""
    from layeredit.api import resolve_engine

    scope = FileScope(root)
    shared_engine = resolve_engine(engine)
    server = MCPServer("layeredit", instructions=INSTRUCTIONS)

    # structured_output=False: the answer is content items (an image and text), not a JSON document.
    @server.tool(name="edit_image", description=agent_tools.EDIT_IMAGE_DESCRIPTION, structured_output=False)
    def edit_image(
        image_path: _described(EditImageArgs, "image_path"),
        instruction: _described(EditImageArgs, "instruction"),
        output_path: _described(EditImageArgs, "output_path") = None,
        masks: _described(EditImageArgs, "masks") = None,
        boxes: _described(EditImageArgs, "boxes") = None,
        overwrite: _described(EditImageArgs, "overwrite") = False,
        refine_mask: _described(EditImageArgs, "refine_mask") = None,
        hd_strategy: _described(EditImageArgs, "hd_strategy") = DEFAULT_HD_STRATEGY,
    ) -> list[Any]:
        args = EditImageArgs(
            image_path=image_path,
            instruction=instruction,
            output_path=output_path,
            masks=masks or {},
            boxes=boxes or {},
            overwrite=overwrite,
            refine_mask=refine_mask,
            hd_strategy=hd_strategy,
        )
        with _user_errors():
            done = agent_tools.edit_image(args, shared_engine, llm, scope)
        return [Image(path=Path(done["output_path"])), json.dumps(done)]

    @server.tool(name="segment_objects", description=agent_tools.SEGMENT_OBJECTS_DESCRIPTION)
    def segment_objects(
        image_path: _described(SegmentObjectsArgs, "image_path"),
        phrases: _described(SegmentObjectsArgs, "phrases"),
        output_dir: _described(SegmentObjectsArgs, "output_dir") = None,
    ) -> str:
        args = SegmentObjectsArgs(image_path=image_path, phrases=phrases, output_dir=output_dir)
        with _user_errors():
            return json.dumps(agent_tools.segment_objects(args, scope))

    @server.tool(name="plan_edit", description=agent_tools.PLAN_EDIT_DESCRIPTION)
    def plan_edit(
        instruction: _described(PlanEditArgs, "instruction"),
        image_path: _described(PlanEditArgs, "image_path") = None,
    ) -> str:
        with _user_errors():
            args = PlanEditArgs(instruction=instruction, image_path=image_path)
            return json.dumps(agent_tools.plan_edit(args, llm, scope))

    @server.tool(name="decompose_image", description=agent_tools.DECOMPOSE_IMAGE_DESCRIPTION)
    def decompose_image(
        image_path: _described(DecomposeImageArgs, "image_path"),
        output_path: _described(DecomposeImageArgs, "output_path") = None,
        masks: _described(DecomposeImageArgs, "masks") = None,
        boxes: _described(DecomposeImageArgs, "boxes") = None,
        phrases: _described(DecomposeImageArgs, "phrases") = None,
        auto: _described(DecomposeImageArgs, "auto") = False,
        overwrite: _described(DecomposeImageArgs, "overwrite") = False,
    ) -> str:
        with _user_errors():
            args = DecomposeImageArgs(image_path=image_path, output_path=output_path, masks=masks or {},
                                      boxes=boxes or {}, phrases=phrases or [], auto=auto,
                                      overwrite=overwrite)  # fmt: skip
            return json.dumps(agent_tools.decompose_image(args, shared_engine, scope))

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
