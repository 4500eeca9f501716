"""layeredit as LangChain tools: ``edit_image``, ``segment_objects``, ``plan_edit`` and ``decompose_image``.

Each tool returns JSON text (paths and the plan), which any chat model can read back. Errors a
caller can fix (a missing file, an unknown object) come back as the tool's error message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException

from layeredit.admission.roots import FileScope
from layeredit.errors import user_message
from layeredit.integrations import agent_tools
from layeredit.integrations.agent_tools import (
    DecomposeImageArgs,
    EditImageArgs,
    PlanEditArgs,
    SegmentObjectsArgs,
)


def layeredit_tools(engine: Any = "pixel", llm: str | None = None, root: str | Path = ".") -> list[BaseTool]:
    """The tools; ``engine`` (a name or one shared instance) and ``llm`` apply to every call.

    The tools read and write files only under ``root`` (default: the working directory).
    """
    scope = FileScope(root)
    if isinstance(engine, str):
        from layeredit.api import resolve_engine

        engine = resolve_engine(engine)  # one instance: the diffusion engine caches inversions

    def edit_image(**fields: Any) -> str:
        return _json(lambda: agent_tools.edit_image(EditImageArgs(**fields), engine, llm, scope))

    def segment_objects(**fields: Any) -> str:
        return _json(lambda: agent_tools.segment_objects(SegmentObjectsArgs(**fields), scope))

    def plan_edit(**fields: Any) -> str:
        return _json(lambda: agent_tools.plan_edit(PlanEditArgs(**fields), llm, scope))

    def decompose_image(**fields: Any) -> str:
        return _json(lambda: agent_tools.decompose_image(DecomposeImageArgs(**fields), engine, scope))

    return [
        StructuredTool.from_function(
            function, name=function.__name__, description=description, args_schema=schema,
            handle_tool_error=True,
        )
        for function, description, schema in (
            (edit_image, agent_tools.EDIT_IMAGE_DESCRIPTION, EditImageArgs),
            (segment_objects, agent_tools.SEGMENT_OBJECTS_DESCRIPTION, SegmentObjectsArgs),
            (plan_edit, agent_tools.PLAN_EDIT_DESCRIPTION, PlanEditArgs),
            (decompose_image, agent_tools.DECOMPOSE_IMAGE_DESCRIPTION, DecomposeImageArgs),
        )
    ]  # fmt: skip


def _json(call: Any) -> str:
    try:
        return json.dumps(call())
    except Exception as exc:  # noqa: BLE001 - reported to the calling model as the tool's answer
        raise ToolException(user_message(exc)) from None
