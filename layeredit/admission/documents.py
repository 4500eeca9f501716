"""Structured text from outside (scene records, stack.xml attributes, manifests, session files)
parsed into pydantic models with a bound on every number and length.

A document that does not fit is one line naming the file and the field: ``scene.json: layers.2.box:
...``. Numbers must be finite, text and lists have a length limit, and JSON nesting a depth limit,
so no input reaches the code behind as ``inf``, a 5000-digit integer or a 10 000-deep list.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from layeredit.errors import InputError, LayereditError, clip
from layeredit.imageio import MAX_SIDE

MAX_DOCUMENT_BYTES = 8 * 2**20  # a scene record or session file; real ones are a few kB
MAX_DEPTH = 32  # nesting of JSON arrays and objects
MAX_NAME = 200  # characters of an object, layer or file name
MAX_ITEMS = 1024  # layers in a scene, objects in a record
MAX_TEXT = 20_000  # characters of one instruction or description
MAX_PATH = 4096  # characters of a path in a document or a tool's arguments

Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME)]
ShortText = Annotated[str, StringConstraints(max_length=MAX_NAME)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
PathText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PATH)]
NamedPaths = Annotated[dict[Name, PathText], Field(max_length=MAX_ITEMS)]  # object name -> mask file
Coordinate = Annotated[int, Field(ge=-MAX_SIDE, le=MAX_SIDE)]
Side = Annotated[int, Field(ge=1, le=MAX_SIDE)]
Offset = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_SIDE, le=MAX_SIDE)]

Model = TypeVar("Model", bound=BaseModel)


def load_json(data: str | bytes, where: str, error: type[LayereditError] = InputError) -> Any:
    """The JSON value in ``data``, or ``error`` saying in one line why ``where`` is not JSON."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise error(f"{where} is {len(data)} bytes, more than the {MAX_DOCUMENT_BYTES} a document may have")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise error(f"{where} is not UTF-8 text; save it as UTF-8 JSON") from None
    try:
        value = json.loads(data)
    except json.JSONDecodeError as exc:
        raise error(
            f"{where} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except (ValueError, RecursionError) as exc:  # a number with thousands of digits, deep nesting
        raise error(f"{where} is not usable JSON ({clip(str(exc))})") from None
    if depth(value) > MAX_DEPTH:
        raise error(f"{where} nests arrays and objects more than {MAX_DEPTH} deep")
    return value


def depth(value: Any) -> int:
    """How deeply JSON arrays and objects nest in ``value`` (a number or text: 0), without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if level <= MAX_DEPTH:
            pending.extend((child, level + 1) for child in children)
    return deepest


def validate(model: type[Model], data: Any, where: str, error: type[LayereditError] = InputError) -> Model:
    """``data`` as ``model``, or ``error`` naming ``where`` and the first fields that do not fit."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(f"{where}: {describe(exc)}") from None


def describe(exc: ValidationError, shown: int = 3) -> str:
    """The first ``shown`` problems, each with where it is (``layers.2.box``), on one line."""
    problems = []
    for err in exc.errors()[:shown]:
        where = clip(".".join(str(part) for part in err["loc"])) or "the document"  # keys are user text
        message = err["msg"].removeprefix("Value error, ")
        problems.append(
            f"{where}: {message}" + (f" (got {clip(repr(err['input']), 40)})" if _shows(err) else "")
        )
    more = exc.error_count() - shown
    return "; ".join(problems) + (f"; and {more} more" if more > 0 else "")


def _shows(err: Any) -> bool:
    """Whether the offending value is plain enough to quote (our own checks quote it already)."""
    return (
        err["type"] != "value_error"
        and isinstance(err.get("input"), (int, float, str))
        and not isinstance(err.get("input"), bool)
    )



class ManifestRecord(BaseModel):
    """One line of a batch manifest, every length and count bounded (its shape is checked first,
    with messages of its own, by ``batch.manifest.check_fields``)."""

    model_config = ConfigDict(extra="forbid")

    image: PathText
    instruction: Text | None = None
    plan: dict[str, Any] | None = None  # checked by EditPlan.parse
    masks: NamedPaths = Field(default_factory=dict)
    boxes: dict[Name, tuple[Offset, Offset, Offset, Offset]] = Field(
        default_factory=dict, max_length=MAX_ITEMS
    )
    output: PathText | None = None
    options: dict[Annotated[str, StringConstraints(max_length=64)], Any] = Field(
        default_factory=dict, max_length=64
    )
    refine_mask: PathText | None = None


def manifest_problem(record: dict[str, Any]) -> str | None:
    """What in a manifest line is over a bound, on one line, or None."""
    try:
        ManifestRecord.model_validate(record)
    except ValidationError as exc:
        return describe(exc)
    return None
