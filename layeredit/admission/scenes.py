"""The models of a layered scene's structured parts: the scene record (``scene.json``, the ORA
``layeredit/scene.json`` entry, the PSD's XMP), a scene folder's layer list and ORA ``stack.xml``.

Every number is bounded, every box is non-empty, the objects decompose found lie on the canvas,
and the files a folder names stay inside it; sizes are then held to the pixel budget by the reader
before a pixel is decoded.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from layeredit.admission.documents import MAX_ITEMS, Coordinate, Name, Offset, ShortText, Side
from layeredit.admission.paths import relative_name

SCENE_FORMAT = "layeredit-scene"
MAX_VERSION = 1  # the newest scene format this version of layeredit reads


def _non_empty(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    if right <= left or bottom <= top:
        raise ValueError(f"box {list(box)} is empty: need right > left and bottom > top")
    return box


def _file_name(name: str) -> str:
    relative_name(name, "file")  # the ScopeError is a ValueError: pydantic reports it on the field
    return name


Box = Annotated[tuple[Coordinate, Coordinate, Coordinate, Coordinate], AfterValidator(_non_empty)]
FileName = Annotated[Name, AfterValidator(_file_name)]


def _unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"two {what} are named {name!r}; give each its own name")
        seen.add(name)


class FoundModel(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: Name
    box: Box
    source: ShortText = ""


class RecordModel(BaseModel):
    """Where decompose found each object, on a canvas of ``size`` (width, height)."""

    model_config = ConfigDict(extra="ignore")

    format: Literal["layeredit-scene"]
    version: int = Field(default=1, ge=1, le=MAX_VERSION)
    size: tuple[Side, Side]
    found: list[FoundModel] = Field(max_length=MAX_ITEMS)

    @model_validator(mode="after")
    def _on_canvas(self) -> RecordModel:
        width, height = self.size
        for item in self.found:
            left, top, right, bottom = item.box
            if left < 0 or top < 0 or right > width or bottom > height:
                raise ValueError(
                    f"object {item.name!r} has box {list(item.box)} outside the {width}x{height} canvas"
                )
        _unique([item.name for item in self.found], "objects")
        return self


class FolderLayerModel(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: Name
    file: FileName
    box: Box
    z: Offset = 0
    visible: bool = True


class FolderSceneModel(RecordModel):
    """``scene.json`` of a scene folder: the record, the original picture and the layers."""

    original: FileName = "original.png"
    layers: list[FolderLayerModel] = Field(default_factory=list, max_length=MAX_ITEMS)

    @model_validator(mode="after")
    def _distinct_layers(self) -> FolderSceneModel:
        _unique([layer.name for layer in self.layers], "layers")
        return self


class StackImageModel(BaseModel):
    """The ``<image>`` element of ``stack.xml``: the canvas size."""

    model_config = ConfigDict(extra="ignore")

    w: Side
    h: Side


class StackLayerModel(BaseModel):
    """A ``<layer>`` element of ``stack.xml``."""

    model_config = ConfigDict(extra="ignore")

    name: ShortText = ""
    src: FileName
    x: Offset = 0
    y: Offset = 0
    visibility: Literal["visible", "hidden"] = "visible"
