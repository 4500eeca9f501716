"""Layered export: PSD and OpenRaster files reopen with the right layers, names, order and pixels."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pytest
from PIL import Image

from layeredit.api import edit
from layeredit.engine.base import RenderedLayer
from layeredit.export import opaque_box, write_layers, write_ora, write_psd

psd_tools = pytest.importorskip("psd_tools", reason="PSD export needs the server extra (psd-tools)")

NAMES = ["background", "red car", "boy[leftmost]", "empty layer"]


def sample_layers(width: int = 64, height: int = 48) -> list[RenderedLayer]:
    rng = np.random.default_rng(0)
    background = np.dstack(
        [rng.integers(0, 256, (height, width, 3), dtype=np.uint8), np.full((height, width), 255, np.uint8)]
    )
    car = np.zeros((height, width, 4), np.uint8)
    car[10:20, 5:30] = (200, 30, 30, 255)
    car[20, 5:30, 3] = 128  # a soft edge row
    boy = np.zeros((height, width, 4), np.uint8)
    boy[15:40, 25:45] = (20, 40, 220, 255)
    empty = np.zeros((height, width, 4), np.uint8)
    return [
        RenderedLayer(name, rgba) for name, rgba in zip(NAMES, [background, car, boy, empty], strict=True)
    ]


def test_psd_reopens_with_every_layer_named_in_z_order_with_its_pixels(tmp_path):
    layers = sample_layers()
    path = write_psd(layers, tmp_path / "layers.psd")
    document = psd_tools.PSDImage.open(path)
    assert document.size == (64, 48)
    assert [layer.name for layer in document] == NAMES  # psd-tools lists bottom to top
    for layer, reopened in zip(layers[:3], list(document)[:3], strict=True):
        left, top, right, bottom = opaque_box(layer.rgba)
        assert reopened.bbox == (left, top, right, bottom)
        pixels = np.asarray(reopened.topil().convert("RGBA"))
        np.testing.assert_array_equal(pixels, layer.rgba[top:bottom, left:right])
    flat = np.asarray(document.composite().convert("RGB"))
    np.testing.assert_array_equal(flat[30, 35], (20, 40, 220))  # the boy is on top of the background
    assert [p.name for p in tmp_path.iterdir()] == ["layers.psd"]  # written atomically, nothing left over


def test_ora_is_a_valid_openraster_stack_topmost_first(tmp_path):
    layers = sample_layers()
    path = write_ora(layers, tmp_path / "layers.ora")
    with zipfile.ZipFile(path) as archive:
        first = archive.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert archive.read("mimetype") == b"image/openraster"
        stack = ET.fromstring(archive.read("stack.xml"))
        assert (stack.get("w"), stack.get("h")) == ("64", "48")
        entries = stack.find("stack").findall("layer")
        assert [e.get("name") for e in entries] == NAMES[::-1]
        for entry, layer in zip(entries[::-1][:3], layers[:3], strict=True):
            left, top, right, bottom = opaque_box(layer.rgba)
            assert (int(entry.get("x")), int(entry.get("y"))) == (left, top)
            with Image.open(io.BytesIO(archive.read(entry.get("src")))) as png:
                np.testing.assert_array_equal(np.asarray(png), layer.rgba[top:bottom, left:right])
        for required in ("mergedimage.png", "Thumbnails/thumbnail.png"):
            assert required in archive.namelist()


def test_export_refuses_layers_of_different_sizes(tmp_path):
    layers = sample_layers()
    layers[1] = RenderedLayer("small", np.zeros((10, 10, 4), np.uint8))
    with pytest.raises(ValueError, match="every layer must be 48x64x4"):
        write_psd(layers, tmp_path / "bad.psd")
    with pytest.raises(ValueError, match="no layers"):
        write_ora([], tmp_path / "bad.ora")


def test_save_layers_writes_psd_and_ora_named_after_the_targets(tmp_path, pikachu):
    image, masks = pikachu
    plan = {
        "operations": [
            {"op": "move", "target": {"phrase": "apple"}, "dx": 0.1},
            {"op": "flip", "target": {"phrase": "pikachu"}},
        ]
    }
    result = edit(image, plan, masks={"apple": masks["apple"], "pikachu": masks["pikachu"]})
    written = write_layers(result, tmp_path)
    assert {p.name for p in written} >= {"layers.psd", "layers.ora", "plan.json"}
    names = [layer.name for layer in result.layers]
    assert names == ["background", "apple", "pikachu"]
    assert [layer.name for layer in psd_tools.PSDImage.open(tmp_path / "layers.psd")] == names
    with zipfile.ZipFile(tmp_path / "layers.ora") as archive:
        stack = ET.fromstring(archive.read("stack.xml"))
        assert [e.get("name") for e in stack.iter("layer")] == names[::-1]
