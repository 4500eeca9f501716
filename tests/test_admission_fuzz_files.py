"""Hypothesis property tests for the outside input that arrives as files or lines (issue 22, item 4):
mask images, CSV manifests, session folders with their masks, and the MCP server's JSON-RPC lines.

The invariant of ``test_admission_fuzz.py`` (a clear ``LayereditError`` or a correct result, never
another exception), and for files one more: every input is byte-identical afterwards.
``$LAYEREDIT_FUZZ_SCALE`` multiplies the example counts as there.
"""

from __future__ import annotations

import csv
import io
import json
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image

from layeredit.agent.session import SessionStore
from layeredit.batch.jobs import RunSettings
from layeredit.batch.manifest import FIELDS, MAPPING_FIELDS, read_manifest
from layeredit.batch.run import Batch
from layeredit.imageio import save_image
from layeredit.tools.masks import load_mask
from tests.test_admission import SIZE, picture
from tests.test_admission_fuzz import ODD_NAMES, clear_or_correct, fuzz, json_values, numberish


@contextmanager
def untouched(folder: Path) -> Iterator[None]:
    """Assert that every file under ``folder`` has the same bytes afterwards (and none went away)."""
    before = {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}
    yield
    assert {path: path.read_bytes() for path in before} == before


# -- mask files ------------------------------------------------------------------------------------------

MODES = ["1", "L", "P", "PA", "LA", "RGB", "RGBA", "CMYK", "I;16", "I", "F", "YCbCr"]
FORMATS = {"PNG": ".png", "GIF": ".gif", "TIFF": ".tif", "WEBP": ".webp", "JPEG": ".jpg", "BMP": ".bmp"}


def _mask_image(mode: str, width: int, height: int, seed: int, transparent: bool) -> Image.Image:
    values = np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)
    image = Image.fromarray(values, "L").convert(mode if mode not in ("I;16", "I", "F") else "L")
    if mode in ("I;16", "I", "F"):
        scale = {"I;16": 257, "I": 65537, "F": 1 / 255}[mode]
        dtype = {"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]
        image = Image.fromarray((values.astype(np.float64) * scale).astype(dtype))
    if transparent and mode in ("P", "L", "RGB"):
        image.info["transparency"] = 0 if mode != "RGB" else (0, 0, 0)
    return image


def _saved(image: Image.Image, fmt: str, frames: int) -> bytes | None:
    """``image`` in ``fmt`` (with ``frames`` frames where the format animates), or None when PIL
    cannot write that mode in that format."""
    buffer = io.BytesIO()
    options: dict[str, Any] = {}
    if frames > 1 and fmt in ("PNG", "GIF", "TIFF", "WEBP"):
        turned = image.transpose(Image.Transpose.ROTATE_180)
        options = {"save_all": True, "append_images": [turned] * (frames - 1)}
    if "transparency" in image.info and fmt in ("PNG", "GIF"):
        options["transparency"] = image.info["transparency"]
    try:
        image.save(buffer, format=fmt, **options)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int, height: int, depth: int, color: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` over a few bytes of pixel data."""
    header = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    data = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def _check_mask(
    folder: Path, data: bytes, suffix: str, size: tuple[int, int] | None, expected: np.ndarray | None = None
) -> None:
    path = folder / f"mask{suffix}"
    path.write_bytes(data)
    with untouched(folder):
        mask = clear_or_correct(lambda: load_mask(path, size))
    if mask is not None:
        assert mask.dtype == bool and mask.ndim == 2
        if size is not None:
            assert (mask.shape[1], mask.shape[0]) == size
    if expected is not None:
        assert mask is not None and (mask == expected).all()


@fuzz(80)
@given(
    st.sampled_from(MODES),
    st.sampled_from(sorted(FORMATS)),
    st.integers(1, 40),
    st.integers(1, 40),
    st.integers(0, 3),
    st.booleans(),
    st.integers(1, 3),
    st.booleans(),
)
def test_mask_files_of_every_kind(
    tmp_path_factory, mode, fmt, width, height, seed, transparent, frames, sized
) -> None:
    data = _saved(_mask_image(mode, width, height, seed, transparent), fmt, frames)
    if data is None:
        return
    expected = None
    if mode in ("L", "I;16") and fmt in ("PNG", "TIFF", "BMP") and frames == 1 and not transparent:
        values = np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)
        expected = values > (0 if values.max() <= 1 else 127)  # lossless grey: white is the object
    folder = tmp_path_factory.mktemp("mask")
    _check_mask(folder, data, FORMATS[fmt], (width, height) if sized else None, expected)


@fuzz(60)
@given(
    st.integers(0, 2**31 - 1) | st.integers(2**31, 2**32 - 1),
    st.integers(0, 2**31 - 1) | st.integers(2**31, 2**32 - 1),
    st.sampled_from([1, 2, 4, 8, 16, 3, 0, 255]),
    st.sampled_from([0, 2, 3, 4, 6, 1, 7]),
)
@example(100_000, 100_000, 8, 0)
def test_bomb_mask_headers(tmp_path_factory, width: int, height: int, depth: int, color: int) -> None:
    _check_mask(tmp_path_factory.mktemp("mask"), bomb_png(width, height, depth, color), ".png", None)


@fuzz(60)
@given(st.integers(0, 200), st.binary(min_size=1, max_size=8), st.sampled_from(sorted(FORMATS)))
def test_damaged_mask_files(tmp_path_factory, offset: int, patch: bytes, fmt: str) -> None:
    data = bytearray(_saved(_mask_image("L", 24, 16, 0, False), fmt, 1) or b"")
    data[offset : offset + len(patch)] = patch
    _check_mask(tmp_path_factory.mktemp("mask"), bytes(data), FORMATS[fmt], (24, 16))


# -- CSV manifests ---------------------------------------------------------------------------------------

HOSTILE_CELLS = ["a.png", "../a.png", "/etc/passwd", "o.png", "remove the ball", "ball=1,2,30,20",
                 "ball=a.png", '{"ball": [1, 2, 30, 20]}', "steps=4; seed=1", "{" + "[" * 3000,
                 "x=" + "[" * 3000, "ball=1e999,0,1,1", "9" * 5000, "x=" + "9" * 5000, "{", "=;=",
                 "remove\u2028the ball", "a\x85b", "a\nb"]  # fmt: skip
# Text without a bare carriage return: reading a manifest turns one inside a quoted cell into "\n".
cell = (
    st.sampled_from(HOSTILE_CELLS)
    | st.text(max_size=20).filter(lambda t: "\r" not in t)
    | numberish.map(str)
)


@st.composite
def csv_tables(draw: st.DrawFn) -> list[list[str]]:
    """A header and rows of as many cells (sometimes one more)."""
    names = st.sampled_from([*FIELDS, "extra", " image "])
    columns = draw(st.lists(names, min_size=1, max_size=5, unique=True))
    width = st.lists(cell, min_size=len(columns), max_size=len(columns) + 1)
    return [columns, *draw(st.lists(width, max_size=4))]


@fuzz(60)
@given(csv_tables())
# Each raised out of read_manifest (RecursionError, csv.Error) or cut a row in two at U+2028.
@example([["image", "options"], ["a.png", "x=" + "[" * 3000]])
@example([["image", "boxes"], ["a.png", '{"a": ' + "[" * 3000]])
@example([["image"], ["a" * 140_000]])
@example([["image", "instruction"], ["a.png", "remove\u2028the ball"]])
@example([["image", "instruction"], ["😀" * 70, "remove the ball"], ["a.png", "remove the ball"]])
def test_csv_manifests(tmp_path_factory, table: list[list[str]]) -> None:
    folder = tmp_path_factory.mktemp("manifest")
    save_image(picture(), folder / "a.png")
    text = io.StringIO()
    csv.writer(text).writerows(table)
    manifest = folder / "m.csv"
    manifest.write_text(text.getvalue(), encoding="utf-8")
    with untouched(folder):
        parsed = clear_or_correct(lambda: read_manifest(manifest))
        if parsed is not None:
            batch = Batch(parsed, folder, folder / "out", RunSettings())
            assert len(batch.jobs) + len(batch.invalid) == len(parsed)
    if parsed is None:
        return
    columns, *rows = table
    written = [row for row in rows if len(row) > len(columns) or any(c.strip() for c in row)]
    assert len(parsed) == len(written)  # one manifest line a row, in order
    for row, line in zip(written, parsed, strict=True):
        assert line.problem is None or "\n" not in line.problem
        if line.fields:  # plain columns hold their cell as written
            cells = {name.strip(): c.strip() for name, c in zip(columns, row, strict=True) if c.strip()}
            assert {k: v for k, v in line.fields.items() if k not in MAPPING_FIELDS} == {
                k: v for k, v in cells.items() if k not in MAPPING_FIELDS
            }


# -- session folders -------------------------------------------------------------------------------------

SESSION_FILES = ["turns/0000/image.png", "turns/0000/ball.png", "turns/0000/small.png", "turns/0000/bomb.png",
                 "turns/0000/notes.txt", "../x.png", "/etc/passwd", "turns", "", *ODD_NAMES]  # fmt: skip
session_file = st.sampled_from(SESSION_FILES) | json_values


def _one_turn(masks: dict[str, str]) -> dict[str, Any]:
    return {"format": 1, "current": 0, "turns": [{"image": "turns/0000/image.png", "masks": masks}]}


@fuzz(60)
@given(
    st.fixed_dictionaries(
        {"format": st.just(1) | json_values, "current": st.just(0) | numberish,
         "turns": st.lists(st.fixed_dictionaries(
             {"image": session_file, "masks": st.dictionaries(st.text(max_size=6), session_file, max_size=2)},
             optional={"instruction": json_values, "plan": json_values, "target": json_values}),
             min_size=1, max_size=2)},  # fmt: skip
        optional={
            "question": st.fixed_dictionaries(
                {"text": st.text(max_size=10), "choices": st.lists(
                    st.fixed_dictionaries({"label": st.text(max_size=6), "plan": json_values},
                                          optional={"mask": session_file}), max_size=2)},  # fmt: skip
                optional={"missing": json_values},
            )
            | json_values,
            "log": json_values,
        },
    )
)
# A mask of another size than its turn's picture was loaded (the next edit then failed).
@example(_one_turn({"b": "turns/0000/small.png"}))
# A name too long for the file system raised OSError out of load().
@example(_one_turn({"b": "😀" * 70}))
def test_session_folders(tmp_path_factory, data: dict[str, Any]) -> None:
    folder: Path = tmp_path_factory.mktemp("session")
    turn = folder / "turns" / "0000"
    turn.mkdir(parents=True)
    save_image(picture(), turn / "image.png")
    save_image(np.where(picture() > 127, 255, 0).astype(np.uint8), turn / "ball.png")
    save_image(picture()[:8, :8], turn / "small.png")
    (turn / "bomb.png").write_bytes(bomb_png(100_000, 100_000, 8, 0))
    (turn / "notes.txt").write_text("not a picture")
    (folder / "session.json").write_text(json.dumps(data, allow_nan=True), encoding="utf-8")
    with untouched(folder):
        saved = clear_or_correct(lambda: SessionStore(folder).load())
    if saved is not None:
        assert 0 <= saved.current < len(saved.turns)
        for turn_read in saved.turns:  # a turn's masks fit its picture
            assert all(mask.shape == turn_read.image.shape[:2] for mask in turn_read.masks.values())
        if saved.question is not None:
            assert all(c.mask is None or c.mask.shape == SIZE[::-1] for c in saved.question.choices)


# -- the MCP server's JSON-RPC lines --------------------------------------------------------------------

request = st.fixed_dictionaries(
    {"jsonrpc": st.just("2.0") | json_values},
    optional={
        "id": st.integers(-(10**20), 10**20) | st.text(max_size=70) | json_values,
        "method": st.sampled_from(["ping", "tools/list", "tools/call", "initialize"]) | json_values,
        "params": st.dictionaries(st.text(max_size=6), json_values, max_size=3) | json_values,
        "result": json_values,
        "error": st.fixed_dictionaries({"code": numberish, "message": json_values}) | json_values,
    },
)
separators = st.sampled_from([(", ", ": "), (",", ":"), (",\r", ":"), (",\t", ": "), (", ", ":\x0c")])


def _line(message: Any, separator: tuple[str, str], ascii_only: bool) -> bytes:
    return json.dumps(message, separators=separator, ensure_ascii=ascii_only, allow_nan=True).encode(
        "utf-8", "surrogatepass"
    )


def _sdk_reads(line: bytes) -> list[str]:
    """The lines the SDK's stdio transport reads from what the filter passes on (it decodes UTF-8
    with replacement and ends a line at a carriage return too)."""
    return io.TextIOWrapper(io.BytesIO(line + b"\n"), encoding="utf-8", errors="replace").readlines()


@fuzz(150)
@given(
    st.one_of(
        st.builds(_line, request, separators, st.booleans()),
        st.builds(_line, json_values, separators, st.booleans()),
        st.binary(max_size=40).filter(lambda b: b"\n" not in b),
    )
)
# Passed on before, then never answered: split in two at a carriage return, a UTF-8 byte-order mark,
# a lone surrogate that Python's JSON parser takes and the SDK's does not.
@example(b'{"jsonrpc":"2.0",\r"id":1,"method":"ping"}')
@example(b'\xef\xbb\xbf{"jsonrpc": "2.0", "id": 1, "method": "ping"}')
@example(b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"a": "\\ud800"}}')
def test_mcp_lines(line: bytes) -> None:
    types = pytest.importorskip("mcp.types", reason="the MCP server needs the agent extra")

    from layeredit.integrations.mcp_stdin import INVALID_REQUEST, PARSE_ERROR, as_read, problem

    answer = problem(line)
    if answer is None:  # passed on: the SDK reads exactly this one message, so it answers it
        (text,) = _sdk_reads(as_read(line).encode())
        types.jsonrpc_message_adapter.validate_json(text, by_name=False)
    else:
        assert answer["jsonrpc"] == "2.0" and answer["error"]["code"] in (PARSE_ERROR, INVALID_REQUEST)
        assert "\n" not in json.dumps(answer)



# -- scene folders ---------------------------------------------------------------------------------------

SECRET = picture(seed=7)  # the scene's size, so reading it in place of a layer would "work"
SCENE_NAMES = ["original.png", "00_background.png", "01_ball.png", "scene.json", "link.png",
               "dirlink/secret.png", "sub/../original.png", "./original.png", "original.png/", ".",
               "../secret/secret.png"]  # fmt: skip


@fuzz(60)
@given(
    st.sampled_from(["original", "layers.0.file", "layers.1.file", "layers.1.box", "layers.1.z", "size"]),
    st.sampled_from(SCENE_NAMES + ODD_NAMES) | json_values | st.lists(numberish, min_size=4, max_size=4),
)
def test_scene_folders(tmp_path_factory, field: str, value: Any) -> None:
    from layeredit.layered import compose
    from layeredit.layerfile import read_scene
    from tests.test_admission import rewrite_scene_json, write_folder

    root: Path = tmp_path_factory.mktemp("scenes")
    (root / "secret").mkdir()
    save_image(SECRET, root / "secret" / "secret.png")
    folder = write_folder(root / "scene")
    (folder / "link.png").symlink_to(root / "secret" / "secret.png")
    (folder / "dirlink").symlink_to(root / "secret", target_is_directory=True)

    def change(data: dict[str, Any]) -> None:
        *path, last = field.split(".")
        place: Any = data
        for part in path:
            place = place[int(part)] if part.isdigit() else place[part]
        place[last] = value

    rewrite_scene_json(folder, change)
    with untouched(root):
        scene = clear_or_correct(lambda: read_scene(folder))
        result = None if scene is None else clear_or_correct(lambda: compose(scene))
    if scene is not None:  # nothing of the file outside the folder came in
        assert not (scene.original == SECRET).all()
        assert not any(layer.rgba.shape[:2] == SECRET.shape[:2] and (layer.rgba[..., :3] == SECRET).all()
                       for layer in scene.layers)  # fmt: skip
    if result is not None:
        assert result.image.shape == (*SIZE[::-1], 3) and not (result.image == SECRET).all()
