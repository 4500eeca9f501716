"""Layered scenes on disk, written by ``decompose`` and read back by ``compose``.

Three forms hold the same scene: a Photoshop document (.psd), an OpenRaster document (.ora) or a
folder of PNG layers with ``scene.json``. Each has, bottom to top, the picture that was decomposed
(a hidden layer named ``original``, the reference compose edits), the clean plate ``background``
and one RGBA layer per object at its place in the picture. A *scene record* remembers where
decompose found each object; compose compares it with where the layers are now. Documents keep it
in their metadata (XMP for PSD, an extra entry for ORA), the folder in ``scene.json``.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import unescape

import numpy as np
from PIL import Image, UnidentifiedImageError

from layeredit.engine.base import RenderedLayer
from layeredit.errors import InputError
from layeredit.export import (
    ORA_SCENE_ENTRY,
    layer_file_stem,
    opaque_box,
    ora_bytes,
    psd_bytes,
)
from layeredit.imageio import save_image, write_atomically

SCENE_FORMAT = "layeredit-scene"
SCENE_VERSION = 1
SCENE_FILE = "scene.json"
ORIGINAL = "original"
BACKGROUND = "background"

Box = tuple[int, int, int, int]  # (left, top, right, bottom), right and bottom exclusive


class SceneFileError(InputError):
    """A layered file compose cannot use; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class FoundObject:
    """An object as decompose found it: its layer's name, its box then, and how it was found."""

    name: str
    box: Box
    source: str  # "mask", "box", "phrase" or "auto"


@dataclass
class SceneRecord:
    size: tuple[int, int]  # (width, height)
    found: list[FoundObject]  # bottom to top

    def to_json(self) -> str:
        found = [{**asdict(item), "box": list(item.box)} for item in self.found]
        return json.dumps({"format": SCENE_FORMAT, "version": SCENE_VERSION, "size": list(self.size),
                           "found": found})  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict, where: str) -> SceneRecord:
        if data.get("format") != SCENE_FORMAT:
            raise SceneFileError(f"{where} is not a layeredit scene (no format {SCENE_FORMAT!r})")
        try:
            found = [
                FoundObject(str(o["name"]), _box(o["box"]), str(o.get("source", ""))) for o in data["found"]
            ]
            width, height = (int(v) for v in data["size"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SceneFileError(
                f"{where} has a damaged scene record ({exc!r}); decompose the image again"
            ) from None
        return cls(size=(width, height), found=found)


@dataclass
class PlacedLayer:
    """A layer as it is in the file now: its pixels and where they are on the canvas."""

    name: str
    rgba: np.ndarray  # h x w x 4 uint8, only the layer's own extent
    left: int
    top: int
    visible: bool = True

    @property
    def box(self) -> Box:
        height, width = self.rgba.shape[:2]
        return self.left, self.top, self.left + width, self.top + height


@dataclass
class LayeredScene:
    record: SceneRecord
    original: np.ndarray  # H x W x 3 uint8, the picture decompose was given
    layers: list[PlacedLayer] = field(default_factory=list)  # bottom to top, ``original`` left out

    def layer(self, name: str) -> PlacedLayer | None:
        return next((layer for layer in self.layers if layer.name == name), None)


def _box(values: object) -> Box:
    left, top, right, bottom = (int(v) for v in values)  # type: ignore[union-attr]
    if right <= left or bottom <= top:
        raise InputError(f"empty box {values}")
    return left, top, right, bottom


def scene_kind(path: Path) -> str:
    """'psd', 'ora' or 'folder', from the suffix (a path without one is a folder)."""
    suffix = path.suffix.lower()
    return {".psd": "psd", ".ora": "ora"}.get(suffix, "folder" if not suffix else "")


# -- writing --------------------------------------------------------------------------------------


def document_bytes(
    kind: str, original: np.ndarray, layers: list[RenderedLayer], record: SceneRecord
) -> bytes:
    """A .psd (``kind`` 'psd') or .ora ('ora') holding the scene: the hidden original below ``layers``
    (full-canvas RGBA, plate first) and the record in its metadata."""
    opaque = np.full(original.shape[:2], 255, dtype=np.uint8)
    reference = RenderedLayer(name=ORIGINAL, rgba=np.dstack([original, opaque]))
    write = {"psd": psd_bytes, "ora": ora_bytes}[kind]
    return write(layers, hidden=[reference], scene_json=record.to_json())


def write_scene(
    path: str | Path, original: np.ndarray, layers: list[RenderedLayer], record: SceneRecord
) -> Path:
    """Write ``layers`` (full-canvas RGBA, plate first) with the hidden original and the record."""
    path = Path(path)
    kind = scene_kind(path)
    if kind == "folder":
        _write_folder(path, original, layers, record)
        return path
    if not kind:
        raise SceneFileError(f"cannot write layers to {path.name}: use .psd, .ora or a folder (no suffix)")
    data = document_bytes(kind, original, layers, record)
    write_atomically(path, lambda handle: handle.write(data))
    return path


def _write_folder(
    folder: Path, original: np.ndarray, layers: list[RenderedLayer], record: SceneRecord
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_image(original, folder / f"{ORIGINAL}.png")
    entries = []
    sources = {item.name: item.source for item in record.found}
    for z, layer in enumerate(layers):
        box = opaque_box(layer.rgba)
        if box is None:
            continue
        left, top, right, bottom = box
        name = f"{layer_file_stem(z, layer.name)}.png"
        save_image(np.ascontiguousarray(layer.rgba[top:bottom, left:right]), folder / name)
        entries.append({"name": layer.name, "file": name, "box": list(box), "z": z, "visible": True,
                        "source": sources.get(layer.name, "plate")})  # fmt: skip
    scene = {**json.loads(record.to_json()), "original": f"{ORIGINAL}.png", "layers": entries}
    text = json.dumps(scene, indent=2) + "\n"
    write_atomically(folder / SCENE_FILE, lambda handle: handle.write(text.encode()))


# -- reading --------------------------------------------------------------------------------------


def read_scene(path: str | Path) -> LayeredScene:
    """The scene in a .psd, .ora or folder written by decompose, as the user left it."""
    path = Path(path)
    if not path.exists():
        raise SceneFileError(f"layered file not found: {path}")
    kind = "folder" if path.is_dir() else scene_kind(path)
    readers = {"psd": _read_psd, "ora": _read_ora, "folder": _read_folder}
    if kind not in readers:
        raise SceneFileError(
            f"{path.name} is not a layered file: give a .psd, .ora or a folder from decompose"
        )
    try:
        scene = readers[kind](path)
    except (
        zipfile.BadZipFile,
        UnidentifiedImageError,
        ElementTree.ParseError,
        OSError,
        json.JSONDecodeError,
    ) as exc:
        raise SceneFileError(f"cannot read {path}: {exc}") from None
    width, height = scene.record.size
    if scene.original.shape[:2] != (height, width):
        raise SceneFileError(
            f"the original layer in {path} is not {width}x{height}; decompose the image again"
        )
    return scene


def _no_record(path: Path) -> SceneFileError:
    return SceneFileError(
        f"{path} has no layeredit scene record (the editor that saved it dropped the metadata, or it was "
        "not written by layeredit decompose); decompose the image again and edit that file"
    )


def _split_original(path: Path, record: SceneRecord, layers: list[PlacedLayer]) -> LayeredScene:
    reference = next((layer for layer in layers if layer.name == ORIGINAL), None)
    if reference is None:
        raise SceneFileError(f"{path} has no layer named {ORIGINAL!r}; keep that hidden layer when editing")
    width, height = record.size
    canvas = np.zeros((height, width, 4), dtype=np.uint8)
    left, top = max(reference.left, 0), max(reference.top, 0)
    part = reference.rgba[
        top - reference.top : height - reference.top, left - reference.left : width - reference.left
    ]
    canvas[top : top + part.shape[0], left : left + part.shape[1]] = part
    others = [layer for layer in layers if layer is not reference]
    return LayeredScene(record=record, original=canvas[..., :3].copy(), layers=others)


def _read_psd(path: Path) -> LayeredScene:
    try:
        from psd_tools import PSDImage
        from psd_tools.constants import Resource
    except ImportError:
        raise SceneFileError("reading .psd files needs psd-tools: pip install 'layeredit[layers]'") from None
    document = PSDImage.open(path)
    xmp = document.image_resources.get_data(Resource.XMP_METADATA)
    found = re.search(rb"<layeredit:scene>(.*?)</layeredit:scene>", xmp or b"", re.S)
    if found is None:
        raise _no_record(path)
    record = SceneRecord.from_dict(json.loads(unescape(found.group(1).decode())), str(path))
    layers = []
    for layer in document.descendants():
        if layer.is_group():
            continue
        pixels = layer.topil()
        if pixels is None:  # an empty layer
            continue
        rgba = np.asarray(pixels.convert("RGBA"))
        layers.append(PlacedLayer(layer.name, rgba, layer.left, layer.top, layer.is_visible()))
    return _split_original(path, record, layers)


def _read_ora(path: Path) -> LayeredScene:
    with zipfile.ZipFile(path) as archive:
        if ORA_SCENE_ENTRY not in archive.namelist():
            raise _no_record(path)
        record = SceneRecord.from_dict(json.loads(archive.read(ORA_SCENE_ENTRY)), str(path))
        stack = ElementTree.fromstring(archive.read("stack.xml"))
        layers = []
        for element in stack.iter("layer"):  # the topmost first
            with Image.open(io.BytesIO(archive.read(element.get("src", "")))) as pixels:
                rgba = np.asarray(pixels.convert("RGBA"))
            left, top = int(float(element.get("x", 0))), int(float(element.get("y", 0)))
            visible = element.get("visibility", "visible") != "hidden"
            layers.append(PlacedLayer(element.get("name", ""), rgba, left, top, visible))
    return _split_original(path, record, layers[::-1])


def _read_folder(folder: Path) -> LayeredScene:
    scene_path = folder / SCENE_FILE
    if not scene_path.is_file():
        raise SceneFileError(f"{folder} has no {SCENE_FILE}; give a folder written by layeredit decompose")
    data = json.loads(scene_path.read_text())
    record = SceneRecord.from_dict(data, str(scene_path))
    width, height = record.size
    layers = []
    entries = sorted(data.get("layers", []), key=lambda entry: entry.get("z", 0))
    for entry in entries:
        file = folder / str(entry.get("file", ""))
        if not file.is_file():  # a layer whose file was deleted is a deleted layer
            continue
        try:
            left, top, right, bottom = _box(entry["box"])
        except (KeyError, TypeError, ValueError):
            raise SceneFileError(
                f"{scene_path}: layer {entry.get('name')!r} needs a box [left, top, right, bottom]"
            ) from None
        with Image.open(file) as pixels:
            image = pixels.convert("RGBA")
            if image.size != (right - left, bottom - top):  # the box was resized: so is the layer
                image = image.resize((right - left, bottom - top), Image.Resampling.LANCZOS)
            rgba = np.asarray(image)
        layers.append(
            PlacedLayer(str(entry.get("name", "")), rgba, left, top, bool(entry.get("visible", True)))
        )
    original_file = folder / str(data.get("original", f"{ORIGINAL}.png"))
    with Image.open(original_file) as pixels:
        original = np.asarray(pixels.convert("RGB"))
    if original.shape[:2] != (height, width):
        raise SceneFileError(f"{original_file} is not {width}x{height}; decompose the image again")
    return LayeredScene(record=record, original=original, layers=layers)
