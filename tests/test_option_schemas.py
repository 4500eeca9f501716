"""Options declared once: the REST forms and the MCP/LangChain tool schemas are generated from the
option dataclasses, so a field added to ResolutionParams appears in each of them with its help."""

from __future__ import annotations

import dataclasses

import anyio
import pytest

pytest.importorskip("fastapi", reason="the server needs the server extra")
from fastapi import Depends, FastAPI  # noqa: E402 - only after the extra is known to be there
from fastapi.testclient import TestClient  # noqa: E402

from layeredit.engine.pixel import PixelEngine  # noqa: E402
from layeredit.engine.resolution import ResolutionParams  # noqa: E402
from layeredit.integrations.langchain_tools import layeredit_tools  # noqa: E402
from layeredit.integrations.mcp_server import build_server  # noqa: E402
from layeredit.server import create_app  # noqa: E402
from layeredit.server.forms import options_form  # noqa: E402

RESOLUTION = {field.name: field for field in dataclasses.fields(ResolutionParams)}
FORM_ROUTES = ("/v1/edit", "/v1/jobs", "/v1/sessions/{session_id}/messages")


def _form_properties(openapi: dict, path: str) -> dict:
    body = openapi["paths"][path]["post"]["requestBody"]["content"]
    reference = next(iter(body.values()))["schema"]["$ref"]
    return openapi["components"]["schemas"][reference.rsplit("/", 1)[1]]["properties"]


def _check_generated(properties: dict) -> None:
    """Every ResolutionParams field is there, optional (None: the engine's own), with its help."""
    assert set(RESOLUTION) <= set(properties), sorted(set(RESOLUTION) - set(properties))
    for name, field in RESOLUTION.items():
        assert field.metadata["help"] in properties[name]["description"]
        assert properties[name].get("default") is None
        assert {"type": "null"} in properties[name]["anyOf"]
    strategy = next(kind for kind in properties["hd_strategy"]["anyOf"] if "enum" in kind)
    assert strategy["enum"] == ["auto", "crop", "resize", "original"]


@pytest.mark.parametrize("path", FORM_ROUTES)
def test_rest_forms_carry_every_resolution_field(path):
    _check_generated(_form_properties(create_app().openapi(), path))


def test_edit_and_jobs_share_one_form():
    openapi = create_app().openapi()
    assert _form_properties(openapi, "/v1/edit") == _form_properties(openapi, "/v1/jobs")


def test_mcp_and_langchain_edit_image_carry_every_resolution_field(tmp_path):
    server = build_server(PixelEngine(), llm="rules", root=tmp_path)
    tools = {tool.name: tool for tool in anyio.run(server.list_tools)}
    _check_generated(tools["edit_image"].input_schema["properties"])
    langchain = {tool.name: tool for tool in layeredit_tools(PixelEngine(), root=tmp_path)}
    _check_generated(langchain["edit_image"].tool_call_schema.model_json_schema()["properties"])


def test_mcp_tool_schemas_are_their_argument_models(tmp_path):
    """Every MCP tool's parameters are exactly its shared argument model's fields, defaults kept."""
    from layeredit.integrations.agent_tools import (
        DecomposeImageArgs,
        EditImageArgs,
        PlanEditArgs,
        SegmentObjectsArgs,
    )

    server = build_server(PixelEngine(), llm="rules", root=tmp_path)
    tools = {tool.name: tool.input_schema for tool in anyio.run(server.list_tools)}
    models = {"edit_image": EditImageArgs, "segment_objects": SegmentObjectsArgs, "plan_edit": PlanEditArgs,
              "decompose_image": DecomposeImageArgs}  # fmt: skip
    for name, model in models.items():
        assert list(tools[name]["properties"]) == list(model.model_fields), name
        assert set(tools[name].get("required", [])) == {
            field for field, info in model.model_fields.items() if info.is_required()
        }


def test_a_field_of_any_options_class_becomes_a_form_field():
    @dataclasses.dataclass(frozen=True)
    class Knobs:
        gain: float = dataclasses.field(default=1.0, metadata={"help": "How loud."})

    app = FastAPI()

    @app.post("/knobs")
    def knobs(given: dict = Depends(options_form(Knobs))) -> dict:  # noqa: B008 - FastAPI dependency
        return given

    assert TestClient(app).post("/knobs", data={"gain": "2.5"}).json() == {"gain": 2.5}
    assert TestClient(app).post("/knobs", data={}).json() == {}
