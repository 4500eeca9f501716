"""The decompose_image tool for agents (LangChain; the MCP server offers the same function)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from layeredit.integrations.langchain_tools import layeredit_tools
from layeredit.layerfile import read_scene
from tests.conftest import SAMPLES


def test_decompose_image_tool_writes_a_psd_beside_the_photo(tmp_path: Path) -> None:
    image = tmp_path / "soccer.jpg"
    shutil.copy(SAMPLES / "soccer" / "image.jpg", image)
    shutil.copy(SAMPLES / "soccer" / "boy.jpg", tmp_path / "boy.jpg")
    decompose_image = {tool.name: tool for tool in layeredit_tools(root=tmp_path)}["decompose_image"]
    answer = json.loads(
        decompose_image.invoke(
            {"image_path": str(image), "masks": {"boy": str(tmp_path / "boy.jpg")},
             "boxes": {"ball": [310, 398, 396, 478]}}
        )
    )  # fmt: skip
    assert answer["output_path"] == str(tmp_path / "soccer.layers.psd")
    assert [layer["name"] for layer in answer["layers"]] == ["background", "boy", "ball"]
    assert [layer.name for layer in read_scene(answer["output_path"]).layers] == ["background", "boy", "ball"]
    failed = decompose_image.invoke({"image_path": str(image), "overwrite": True})
    assert failed.startswith("error:") and "no objects to put on layers" in failed
