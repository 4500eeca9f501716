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
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePath
from typing import Protocol
from xml.etree import ElementTree
from xml.sax.saxutils import unescape

import numpy as np
from PIL import Image

from layeredit.admission.archives import Archive, ArchiveLimits, open_archive
from layeredit.admission.documents import MAX_ITEMS, load_json, validate
from layeredit.admission.outputs import claim_folder, claim_output
from layeredit.admission.paths import FolderFiles, relative_name
from layeredit.admission.scenes import (
    SCENE_FORMAT,
    FolderSceneModel,
    RecordModel,
    StackImageModel,
    StackLayerModel,
)
from layeredit.engine.base import RenderedLayer
from layeredit.errors import InputError, LayereditError, clip
from layeredit.export import (
    ORA_SCENE_ENTRY,
    layer_file_stem,
    opaque_box,
    ora_bytes,
    psd_bytes,
)
from layeredit.imageio import PixelBudget, check_budget, open_image, save_image, write_atomically

SCENE_VERSION = 1
# The layers of one scene together may hold this many times the pixel budget: a decomposed scene
# holds the original, the plate and each object cropped to its box, two to three canvases.
MAX_LAYER_CANVASES = 8
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


def scene_kind(path: Path) -> str:
    """'psd', 'ora' or 'folder', from the suffix (a path without one is a folder)."""
    suffix = path.suffix.lower()
    return {".psd": "psd", ".ora": "ora"}.get(suffix, "folder" if not suffix else "")


def claim_scene_output(
    path: str | Path, inputs: Sequence[str | Path] = (), overwrite: bool = False, what: str = "output"
) -> Path:
    """``path`` as the place to write a scene (.psd, .ora or a folder): never over an input, and
    over existing files only with ``overwrite``."""
    path = Path(path)
    kind = scene_kind(path)
    if not kind:
        raise SceneFileError(f"cannot write layers to {path.name}: use .psd, .ora or a folder (no suffix)")
    claim = claim_folder if kind == "folder" else claim_output
    return claim(path, inputs, overwrite, what)


def scene_inputs(path: str | Path) -> list[Path]:
    """The files a scene is read from: the document, or every file in the folder."""
    path = Path(path)
    return sorted(path.rglob("*")) if path.is_dir() else [path]


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


def read_scene(path: str | Path, max_pixels: int | None = None) -> LayeredScene:
    """The scene in a .psd, .ora or folder written by decompose, as the user left it.

    A folder's ``scene.json`` may name only files inside the folder; every size it or a document
    declares is held to the pixel budget (``max_pixels``, else the process-wide one) before any
    pixel is decoded.
    """
    if not isinstance(path, str | os.PathLike):  # compose(None) is a caller's mistake, not a crash
        raise SceneFileError(f"a scene is the path of a .psd, .ora or folder, not {type(path).__name__}")
    path = Path(path)
    where = clip(str(path))
    if not path.exists():
        raise SceneFileError(f"layered file not found: {where}")
    if path.is_dir():
        return _checked(_read_folder(FolderFiles(path), where, max_pixels), where)
    kind = scene_kind(path)
    if kind not in ("psd", "ora"):
        raise SceneFileError(
            f"{path.name} is not a layered file: give a .psd, .ora or a folder from decompose"
        )
    return _read_document(kind, path, where, max_pixels, ArchiveLimits())


def read_scene_bytes(
    data: bytes, filename: str, max_pixels: int | None = None, limits: ArchiveLimits | None = None
) -> LayeredScene:
    """The scene in an uploaded .psd, .ora or zipped scene folder; messages name it by ``filename``
    only, and nothing is written to disk."""
    where = clip(PurePath(filename).name or "upload")
    kind = {".psd": "psd", ".ora": "ora", ".zip": "zip"}.get(PurePath(filename).suffix.lower())
    if kind is None:
        raise SceneFileError(f"{where!r} is not a layered file: send the .psd, .ora or zip from decompose")
    return _read_document(kind, data, where, max_pixels, limits or ArchiveLimits())


def _read_document(
    kind: str, source: bytes | Path, where: str, max_pixels: int | None, limits: ArchiveLimits
) -> LayeredScene:
    if kind == "psd":
        return _checked(_read_psd(source, where, max_pixels), where)
    try:
        archive = open_archive(source, where, limits)
    except InputError as exc:
        raise SceneFileError(f"cannot read {where}: {exc}") from None
    try:
        if kind == "ora":
            return _checked(_read_ora(archive, where, max_pixels), where)
        return _checked(_read_folder(_zipped_folder(archive, where), where, max_pixels), where)
    finally:
        archive.close()


def _checked(scene: LayeredScene, where: str) -> LayeredScene:
    width, height = scene.record.size
    if scene.original.shape[:2] != (height, width):
        raise SceneFileError(
            f"the original layer in {where} is not {width}x{height}; decompose the image again"
        )
    seen: set[str] = set()
    for layer in scene.layers:
        if layer.name in seen:
            raise SceneFileError(
                f"{where} has two layers named {clip(layer.name)!r}; give each layer its own name"
            )
        seen.add(layer.name)
    return scene


def _record(data: object, where: str, max_pixels: int | None) -> SceneRecord:
    """The scene record in parsed JSON ``data``, its canvas within the pixel budget."""
    model = validate(RecordModel, data, where, SceneFileError)
    check_budget(model.size, f"the canvas of {where}", max_pixels)
    return SceneRecord(size=model.size, found=[FoundObject(o.name, o.box, o.source) for o in model.found])


def _same_canvas(record: SceneRecord, canvas: tuple[int, int], where: str) -> None:
    """Refuse a document whose canvas is not the size its scene record gives (a canvas resized in
    another editor, or a damaged record): composing it would silently crop or pad the picture."""
    if tuple(record.size) != canvas:
        raise SceneFileError(
            f"the canvas of {where} is {canvas[0]}x{canvas[1]} but its scene record says "
            f"{record.size[0]}x{record.size[1]}; decompose the image again"
        )


def _decode(data: bytes, what: str, max_pixels: int | None, mode: str = "RGBA") -> np.ndarray:
    """A layer's PNG bytes as an array, the size checked from the header first."""
    return np.asarray(open_image(data, what, max_pixels).convert(mode))


def _no_record(where: str) -> SceneFileError:
    return SceneFileError(
        f"{where} has no layeredit scene record (the editor that saved it dropped the metadata, or it was "
        "not written by layeredit decompose); decompose the image again and edit that file"
    )


def _split_original(where: str, record: SceneRecord, layers: list[PlacedLayer]) -> LayeredScene:
    reference = next((layer for layer in layers if layer.name == ORIGINAL), None)
    if reference is None:
        raise SceneFileError(f"{where} has no layer named {ORIGINAL!r}; keep that hidden layer when editing")
    width, height = record.size
    canvas = np.zeros((height, width, 4), dtype=np.uint8)
    left, top = max(reference.left, 0), max(reference.top, 0)
    part = reference.rgba[
        top - reference.top : height - reference.top, left - reference.left : width - reference.left
    ]
    canvas[top : top + part.shape[0], left : left + part.shape[1]] = part
    others = [layer for layer in layers if layer is not reference]
    return LayeredScene(record=record, original=canvas[..., :3].copy(), layers=others)


def _read_psd(source: bytes | Path, where: str, max_pixels: int | None) -> LayeredScene:
    try:
        from psd_tools import PSDImage
        from psd_tools.constants import Resource
    except ImportError:
        raise SceneFileError("reading .psd files needs psd-tools: pip install 'layeredit[layers]'") from None
    try:
        document = PSDImage.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        check_budget((document.width, document.height), f"the canvas of {where}", max_pixels)
        xmp = document.image_resources.get_data(Resource.XMP_METADATA)
        found = re.search(rb"<layeredit:scene>(.*?)</layeredit:scene>", xmp or b"", re.S)
        if found is None:
            raise _no_record(where)
        text = unescape(found.group(1).decode("utf-8", "replace"))
        record = _record(load_json(text, f"the scene record of {where}", SceneFileError), where, max_pixels)
        _same_canvas(record, (document.width, document.height), where)
        layers = []
        budget = PixelBudget(f"the layers of {where}", MAX_LAYER_CANVASES, max_pixels)
        for layer in document.descendants():
            if layer.is_group():
                continue
            budget.take((layer.width, layer.height), f"layer {clip(layer.name)!r} of {where}")
            pixels = layer.topil()
            if pixels is None:  # an empty layer
                continue
            rgba = np.asarray(pixels.convert("RGBA"))
            layers.append(PlacedLayer(layer.name, rgba, layer.left, layer.top, layer.is_visible()))
    except LayereditError:
        raise
    except Exception as exc:  # noqa: BLE001 - psd-tools fails on a damaged file with any exception type
        raise SceneFileError(
            f"cannot read {where}: not a readable Photoshop document ({type(exc).__name__}: {clip(str(exc))})"
        ) from None
    return _split_original(where, record, layers)


def _read_ora(archive: Archive, where: str, max_pixels: int | None) -> LayeredScene:
    if not archive.exists(ORA_SCENE_ENTRY):
        raise _no_record(where)
    entry = f"{where}: {ORA_SCENE_ENTRY}"
    record = _record(load_json(archive.read(ORA_SCENE_ENTRY), entry, SceneFileError), entry, max_pixels)
    if not archive.exists("stack.xml"):
        raise SceneFileError(f"{where} has no stack.xml, so it is not an OpenRaster file; decompose again")
    try:
        stack = ElementTree.fromstring(archive.read("stack.xml", "stack.xml"))
    except (ElementTree.ParseError, LookupError, ValueError) as exc:  # also an encoding expat cannot use
        raise SceneFileError(f"{where}: stack.xml is not readable XML ({clip(str(exc))})") from None
    canvas = validate(StackImageModel, stack.attrib, f"{where}: stack.xml <image>", SceneFileError)
    check_budget((canvas.w, canvas.h), f"the canvas of {where}", max_pixels)
    _same_canvas(record, (canvas.w, canvas.h), where)
    layers = []
    budget = PixelBudget(f"the layers of {where}", MAX_LAYER_CANVASES, max_pixels)
    for number, element in enumerate(stack.iter("layer"), start=1):  # the topmost first
        if number > MAX_ITEMS:
            raise SceneFileError(f"{where} has more than {MAX_ITEMS} layers")
        layer = validate(
            StackLayerModel, element.attrib, f"{where}: stack.xml layer {number}", SceneFileError
        )
        what = f"layer {clip(layer.name)!r} of {where}"
        rgba = _decode(archive.read(layer.src, what), what, max_pixels)
        budget.take((rgba.shape[1], rgba.shape[0]), what)  # only a layer's PNG header tells its size
        layers.append(
            PlacedLayer(layer.name, rgba, int(layer.x), int(layer.y), layer.visibility == "visible")
        )
    return _split_original(where, record, layers[::-1])


class _Files(Protocol):
    def exists(self, name: str, what: str) -> bool: ...
    def read(self, name: str, what: str) -> bytes: ...


class _Prefixed:
    """The files of a zipped scene folder, which may sit one folder down in the archive."""

    def __init__(self, archive: Archive, prefix: str):
        self.archive, self.prefix = archive, prefix

    def exists(self, name: str, what: str) -> bool:
        return self.archive.exists(self.prefix + str(relative_name(name, what)), what)

    def read(self, name: str, what: str) -> bytes:
        return self.archive.read(self.prefix + str(relative_name(name, what)), what)


def _zipped_folder(archive: Archive, where: str) -> _Prefixed:
    found = sorted((name for name in archive.names if PurePath(name).name == SCENE_FILE), key=len)
    if not found or found[0].count("/") > 1:
        raise SceneFileError(f"{where} holds no {SCENE_FILE}; zip the folder decompose wrote")
    return _Prefixed(archive, found[0][: -len(SCENE_FILE)])


def _read_folder(files: _Files, where: str, max_pixels: int | None) -> LayeredScene:
    if not files.exists(SCENE_FILE, "scene file"):
        raise SceneFileError(f"{where} has no {SCENE_FILE}; give a folder written by layeredit decompose")
    entry = f"{where}: {SCENE_FILE}"
    scene = validate(FolderSceneModel, load_json(files.read(SCENE_FILE, SCENE_FILE), entry, SceneFileError),
                     entry, SceneFileError)  # fmt: skip
    record = _record(scene.model_dump(), entry, max_pixels)
    layers = []
    budget = PixelBudget(f"the layers of {where}", MAX_LAYER_CANVASES, max_pixels)
    for layer in sorted(scene.layers, key=lambda item: item.z):
        if not files.exists(layer.file, f"the file of layer {clip(layer.name)!r}"):
            continue  # a layer whose file was deleted is a deleted layer
        left, top, right, bottom = layer.box
        what = f"layer {clip(layer.name)!r}"
        budget.take((right - left, bottom - top), f"the box of {what} in {entry}")
        image = open_image(files.read(layer.file, f"the file of {what}"), what, max_pixels).convert("RGBA")
        if image.size != (right - left, bottom - top):  # the box was resized: so is the layer
            image = image.resize((right - left, bottom - top), Image.Resampling.LANCZOS)
        layers.append(PlacedLayer(layer.name, np.asarray(image), left, top, layer.visible))
    original = _decode(
        files.read(scene.original, "original picture"), "the original picture", max_pixels, "RGB"
    )
    width, height = record.size
    if original.shape[:2] != (height, width):
        raise SceneFileError(
            f"the original picture of {where} is not {width}x{height}; decompose the image again"
        )
    return LayeredScene(record=record, original=original, layers=layers)
