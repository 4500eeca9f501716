"""Reading batch manifests: one edit a line, as JSON Lines or CSV (docs/method.md, "Batch manifests").

A line that cannot be read is not fatal: it comes back with its problem, and the run records it as a
failed line and goes on with the others. Only a manifest that cannot be read at all is an error.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layeredit.admission.documents import MAX_SIDE, load_json, manifest_problem
from layeredit.errors import InputError, ManifestError, clip

FIELDS = ("image", "instruction", "plan", "masks", "boxes", "output", "options", "refine_mask")
# CSV cells for these columns hold a JSON object or NAME=VALUE pairs separated by ';'.
MAPPING_FIELDS = ("plan", "masks", "boxes", "options")


@dataclass(frozen=True)
class ManifestLine:
    """One edit of a manifest: its line number (from 1) and its fields, or what is wrong with it."""

    number: int
    fields: dict[str, Any]
    problem: str | None = None


def read_manifest(path: str | Path) -> list[ManifestLine]:
    """The lines of a JSON Lines manifest, or of a CSV one when the name ends in ``.csv``."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"manifest not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ManifestError(
            f"manifest {path} is not UTF-8 text; save it as UTF-8 JSON Lines or CSV"
        ) from None
    lines = _read_csv(path, text) if path.suffix.lower() == ".csv" else _read_json_lines(text)
    if not lines:
        raise ManifestError(f"manifest {path} has no edits; write one JSON object per line")
    return lines


def _read_json_lines(text: str) -> list[ManifestLine]:
    lines = []
    # Lines end at "\n" only: str.splitlines would also cut at U+2028 or U+0085, which JSON text may hold.
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            lines.append(ManifestLine(number, {}, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        except (ValueError, RecursionError) as exc:  # a number of thousands of digits, deep nesting
            lines.append(ManifestLine(number, {}, f"not valid JSON here ({clip(str(exc))})"))
            continue
        if not isinstance(record, dict):
            lines.append(ManifestLine(number, {}, f"expected a JSON object, got {type(record).__name__}"))
            continue
        lines.append(ManifestLine(number, record, check_fields(record)))
    return lines


def _read_csv(path: Path, text: str) -> list[ManifestLine]:
    reader = csv.DictReader(io.StringIO(text, newline=""))  # quoted cells keep their line breaks
    try:
        return _csv_lines(path, reader)
    except csv.Error as exc:  # a cell over the csv module's limit of 128 KiB
        raise ManifestError(f"manifest {path} line {reader.line_num}: {exc}") from None


def _csv_lines(path: Path, reader: csv.DictReader) -> list[ManifestLine]:
    columns = [c.strip() for c in reader.fieldnames or []]
    unknown = [c for c in columns if c not in FIELDS]
    if "image" not in columns or unknown:
        what = f"unknown column {', '.join(map(repr, unknown))}" if unknown else "no 'image' column"
        raise ManifestError(f"manifest {path} line 1: {what}; the columns are {', '.join(FIELDS)}")
    lines = []
    start = 2  # the header is line 1
    for row in reader:
        number, start = start, reader.line_num + 1
        if None in row:
            lines.append(ManifestLine(number, {}, "more cells than the header has columns"))
            continue
        record: dict[str, Any] = {}
        try:
            for column, cell in row.items():
                if cell is not None and cell.strip():
                    name = column.strip()
                    record[name] = _cell(name, cell.strip()) if name in MAPPING_FIELDS else cell.strip()
        except ValueError as exc:
            lines.append(ManifestLine(number, {}, str(exc)))
            continue
        if record:
            lines.append(ManifestLine(number, record, check_fields(record)))
    return lines


def _cell(column: str, cell: str) -> dict[str, Any]:
    """A CSV cell holding a mapping: ``{"cat": "cat.png"}`` or ``cat=cat.png; dog=dog.png``."""
    if cell.startswith("{"):
        return load_json(cell, f"column {column!r}")
    pairs: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in cell.split(";"))):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise InputError(f"column {column!r} expects NAME=VALUE pairs separated by ';', got {part!r}")
        value = value.strip()
        if column == "boxes":
            pairs[name.strip()] = [_number(v, column) for v in value.split(",")]
        elif column == "options":
            pairs[name.strip()] = _scalar(value)
        else:
            pairs[name.strip()] = value
    return pairs


def _number(text: str, column: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(f"column {column!r}: {text!r} is not a number") from None


def _scalar(text: str) -> Any:
    """An option value from CSV: a JSON number, true/false/null, or else the text itself."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # not JSON, a number of thousands of digits, deep nesting
        return text


def check_fields(record: dict[str, Any]) -> str | None:
    """What is wrong with the shape of a manifest record, or None."""
    unknown = [name for name in record if name not in FIELDS]
    if unknown:
        return f"unknown field {', '.join(map(repr, unknown))}; the fields are {', '.join(FIELDS)}"
    if not isinstance(record.get("image"), str) or not record["image"].strip():
        return "'image' (the path of the picture to edit) is missing"
    if ("instruction" in record) == ("plan" in record):
        return "give either 'instruction' or 'plan' (not both, not neither)"
    if "instruction" in record and not (
        isinstance(record["instruction"], str) and record["instruction"].strip()
    ):
        return "'instruction' must be non-empty text"
    for name in MAPPING_FIELDS:
        if name in record and not isinstance(record[name], dict):
            return f"'{name}' must be an object, got {type(record[name]).__name__}"
    for name in ("output", "refine_mask"):
        if name in record and not (isinstance(record[name], str) and record[name].strip()):
            return f"'{name}' must be a file name"
    for name, path in record.get("masks", {}).items():
        if not isinstance(path, str) or not path.strip():
            return f"mask {name!r} must be a file path"
    for name, box in record.get("boxes", {}).items():
        if (
            not isinstance(box, list)
            or len(box) != 4
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)
        ):
            return f"box {name!r} must be four numbers [x0, y0, x1, y1]"
        if not all(math.isfinite(v) and abs(v) <= MAX_SIDE for v in box):
            return f"box {name!r} must be four finite numbers of pixels, at most {MAX_SIDE} each"
        if box[2] <= box[0] or box[3] <= box[1]:
            return f"box {name!r} is empty: need x1 > x0 and y1 > y0"
    return manifest_problem(record)
