"""layeredit as a tool: a real MCP client over stdio, and a LangChain agent loop."""

from __future__ import annotations

import base64
import io
import json
import shutil
import sys

import anyio
import numpy as np
import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, ToolMessage
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters
from PIL import Image

from layeredit.imageio import load_image
from layeredit.integrations.langchain_tools import layeredit_tools
from tests.agent_fakes import ToolCallingFakeModel, scripted
from tests.conftest import REPO, SAMPLES

SOCCER = SAMPLES / "soccer"


def copy_sample(tmp_path):
    image, mask = tmp_path / "image.jpg", tmp_path / "boy.jpg"
    shutil.copy(SOCCER / "image.jpg", image)
    shutil.copy(SOCCER / "boy.jpg", mask)
    return image, mask


def test_mcp_client_lists_the_tools_and_edits_an_image(tmp_path):
    image, mask = copy_sample(tmp_path)
    out = tmp_path / "edited.png"

    async def session():
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "layeredit.cli", "mcp", "--root", str(tmp_path)],
            cwd=str(REPO),
            env={"HF_HUB_OFFLINE": "1"},
        )
        async with Client(params, read_timeout_seconds=120) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            edited = await client.call_tool(
                "edit_image",
                {"image_path": str(image), "instruction": "move the boy to the left",
                 "masks": {"boy": str(mask)}, "output_path": str(out)},
            )  # fmt: skip
            refused = await client.call_tool(
                "edit_image",
                {"image_path": str(image), "instruction": "move the boy left", "output_path": str(image)},
            )
            outside = await client.call_tool(
                "edit_image",
                {"image_path": str(image), "instruction": "move the boy left", "masks": {"boy": str(mask)},
                 "output_path": str(tmp_path.parent / "outside.png"), "overwrite": True},
            )  # fmt: skip
            broken = await client.call_tool("plan_edit", {"instruction": "flurb " * 3000})
            return tools, edited, refused, outside, broken

    tools, edited, refused, outside, broken = anyio.run(session)
    assert outside.is_error and "outside the folder this tool may use" in outside.content[0].text
    assert not (tmp_path.parent / "outside.png").exists()
    # The SDK puts "Error executing tool plan_edit: " before the CLI's one line.
    assert broken.is_error and ": error: could not understand" in broken.content[0].text
    assert len(broken.content[0].text) < 600 and "\n" not in broken.content[0].text
    assert set(tools) == {"edit_image", "segment_objects", "plan_edit", "decompose_image"}
    assert "mask" in tools["edit_image"].input_schema["properties"]["masks"]["description"]
    assert not edited.is_error
    picture, text = edited.content
    assert picture.type == "image" and picture.mime_type == "image/png"
    with Image.open(io.BytesIO(base64.b64decode(picture.data))) as returned:
        returned_pixels = np.asarray(returned.convert("RGB"))
    assert np.array_equal(returned_pixels, load_image(out))
    assert not np.array_equal(returned_pixels, load_image(image))
    assert json.loads(text.text)["plan"]["operations"][0]["op"] == "move"
    assert refused.is_error and "is an input of this edit" in refused.content[0].text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boy.jpg", "edited.png", "image.jpg"]


def test_langchain_agent_calls_edit_image(tmp_path):
    image, mask = copy_sample(tmp_path)
    out = tmp_path / "out.png"
    call = {
        "name": "edit_image",
        "args": {"image_path": str(image), "instruction": "remove the boy", "masks": {"boy": str(mask)},
                 "output_path": str(out)},
        "id": "call_1",
    }  # fmt: skip
    model = ToolCallingFakeModel(
        messages=scripted(
            AIMessage(content="", tool_calls=[call]), AIMessage(content="Done: the boy is gone.")
        )
    )
    agent = create_agent(model, tools=layeredit_tools(root=tmp_path))
    state = agent.invoke({"messages": [{"role": "user", "content": f"remove the boy from {image}"}]})
    tool_reply = next(m for m in state["messages"] if isinstance(m, ToolMessage))
    answer = json.loads(tool_reply.content)
    assert answer["output_path"] == str(out) and answer["plan"]["operations"][0]["op"] == "remove"
    assert state["messages"][-1].content == "Done: the boy is gone."
    assert load_image(out).shape == load_image(image).shape


def test_tool_errors_go_back_to_the_model_and_defaults_never_overwrite(tmp_path):
    image, mask = copy_sample(tmp_path)
    edit_image, segment_objects, plan_edit, _ = layeredit_tools(root=tmp_path)
    failed = edit_image.invoke({"image_path": str(image), "instruction": "remove the cat"})
    assert failed.startswith("error:") and "cat" in failed
    assert "\"cat\": \"MASK_PATH\" to the masks argument" in failed and "--mask" not in failed
    first = json.loads(
        edit_image.invoke(
            {"image_path": str(image), "instruction": "remove the boy", "masks": {"boy": str(mask)}}
        )
    )
    second = json.loads(
        edit_image.invoke(
            {"image_path": str(image), "instruction": "remove the boy", "masks": {"boy": str(mask)}}
        )
    )
    assert (first["output_path"], second["output_path"]) == (
        str(tmp_path / "image.edited.png"),
        str(tmp_path / "image.edited-2.png"),
    )
    assert json.loads(plan_edit.invoke({"instruction": "flip the boy"}))["operations"][0]["op"] == "flip"


def test_segment_objects_explains_when_no_models_are_available(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # An empty Hugging Face cache: the default models are surely not on this machine.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    image, _ = copy_sample(tmp_path)
    _, segment_objects, _, _ = layeredit_tools(root=tmp_path)
    answer = json.loads(segment_objects.invoke({"image_path": str(image), "phrases": ["boy"]}))
    assert answer["available"] is False
    assert "masks" in answer["message"] and "boxes" in answer["message"]
    assert "hf download" in answer["message"]


@pytest.mark.parametrize(
    "args, expected",
    [
        ({"instruction": "x" * 20_001}, "instruction\n  String should have at most 20000 characters"),
        ({"image_path": "p" * 4097}, "image_path\n  String should have at most 4096 characters"),
        ({"boxes": {"cat": [1, 2, 3]}}, "boxes.cat\n  List should have at least 4 items"),
        ({"boxes": {"cat": [0, 0, 10**12, 5]}}, "boxes.cat.2\n  Input should be less than or equal to"),
        ({"masks": {"c" * 201: "m.png"}}, "masks.ccc"),
    ],
    ids=["instruction", "path", "box-corners", "box-number", "mask-name"],
)  # fmt: skip
def test_every_string_list_and_number_of_the_tool_arguments_is_bounded(args, expected):
    from pydantic import ValidationError

    from layeredit.integrations.agent_tools import EditImageArgs

    with pytest.raises(ValidationError) as caught:
        EditImageArgs.model_validate({"image_path": "a.png", "instruction": "remove the cat", **args})
    assert expected in str(caught.value)
