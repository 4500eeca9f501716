"""Hypothesis property tests for every parser of outside input (issue 22, item 4).

One invariant throughout: a clear :class:`LayereditError` (one line) or a correct result, never
another exception. The example counts are kept small so the whole file runs in well under a minute;
``$LAYEREDIT_FUZZ_SCALE`` multiplies them for a longer campaign (``make fuzz``), and
``pytest --hypothesis-show-statistics`` prints how many each property generated.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from layeredit.admission.archives import ArchiveLimits, open_archive
from layeredit.admission.names import choice_number, content_disposition, safe_stem
from layeredit.admission.scenes import StackImageModel
from layeredit.agent.questions import Choice, Question
from layeredit.agent.session import SessionStore
from layeredit.batch.jobs import RunSettings
from layeredit.batch.manifest import read_manifest
from layeredit.batch.run import Batch
from layeredit.errors import LayereditError
from layeredit.imageio import check_budget, save_image
from layeredit.layered import compose
from layeredit.layerfile import LayeredScene, document_bytes, read_scene, read_scene_bytes
from layeredit.plan import EditPlan
from layeredit.server.uploads import RequestError, parse_boxes
from layeredit.tools.resolve import parse_box
from tests.hostile.generate import zipped
from tests.test_admission import BALL, SIZE, ora_with, picture, scene_parts, write_folder

T = TypeVar("T")
FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


SCALE = int(os.environ.get("LAYEREDIT_FUZZ_SCALE", "1"))  # `make fuzz`: 20 times the examples


def fuzz(examples: int) -> settings:
    return settings(FUZZ, max_examples=examples * SCALE)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
numberish = (
    st.integers(-(10**7), 10**7)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["1", "inf", "nan", "-0", "1e309", "x", "9" * 5000, "", "¹"])
    | st.none()
)


def clear_or_correct(call: Callable[[], T]) -> T | None:
    """What ``call`` returns, or None after a user error whose message is one line."""
    try:
        return call()
    except LayereditError as exc:
        assert str(exc) and "\n" not in str(exc), repr(exc)
        return None


# -- plans, boxes, sizes, chat answers ---------------------------------------------------------------

operation = st.fixed_dictionaries(
    {"op": st.sampled_from(["move", "remove", "resize", "swap", "explode", "insert", "reorder"])},
    optional={
        "target": st.fixed_dictionaries({"phrase": st.text(max_size=10)}) | json_values,
        "dx": numberish,
        "dy": numberish,
        "scale": numberish,
        "position": st.text(max_size=8),
        "source": st.text(max_size=8),
    },
)


@fuzz(150)
@given(st.one_of(st.fixed_dictionaries({"operations": st.lists(operation, max_size=3)}), json_values))
def test_plan_dicts(data: Any) -> None:
    plan = clear_or_correct(lambda: EditPlan.parse(data))
    if plan is not None:
        assert EditPlan.parse(plan.to_json()) == plan  # what validates, round-trips


@fuzz(100)
@given(st.text(max_size=60) | st.sampled_from(['{"operations": [' + "[" * 3000, '{"operations": 1e999}']))
def test_plan_text(text: str) -> None:
    clear_or_correct(lambda: EditPlan.parse(text))


@fuzz(150)
@given(st.lists(numberish, max_size=5) | json_values)
def test_boxes(values: Any) -> None:
    box = clear_or_correct(lambda: parse_box("cat", values))
    if box is not None:
        x0, y0, x1, y1 = box
        assert x1 > x0 and y1 > y0 and all(isinstance(v, int) for v in box)


@fuzz(100)
@given(st.text(max_size=40) | json_values.map(json.dumps))
def test_box_form_fields(text: str) -> None:
    try:
        boxes = parse_boxes(text)
    except RequestError as exc:
        assert exc.status == 422
        return
    assert all(len(box) == 4 for box in boxes.values())


@fuzz(100)
@given(st.integers(-(10**12), 10**12), st.integers(-(10**12), 10**12), st.integers(1, 10**9))
def test_sizes_against_the_budget(width: int, height: int, limit: int) -> None:
    refused = clear_or_correct(lambda: check_budget((width, height), "image", limit) or True) is None
    assert refused == (width * height > limit)


@fuzz(150)
@given(st.text(max_size=12) | st.sampled_from(["¹", "٣", "9" * 5000, "1", "02", "yes"]), st.integers(1, 12))
def test_chat_answers(text: str, count: int) -> None:
    question = Question("which one?", [Choice(f"object {n}", "remove it") for n in range(count)])
    picked = clear_or_correct(lambda: question.answer(text))
    number = choice_number(text, count)
    if number is not None:
        assert picked is question.choices[number - 1] and str(number) == text.strip().lstrip("0")


@fuzz(200)
@given(st.text(max_size=30), st.text(max_size=30))
def test_names_get_distinct_safe_file_names(one: str, other: str) -> None:
    assert (safe_stem(one) == safe_stem(other)) == (one == other)
    assert safe_stem(one).isascii() and "/" not in safe_stem(one) and safe_stem(one) not in ("", ".", "..")
    assert content_disposition(one + ".png").isascii()


# -- scenes: scene.json, stack.xml, PSD headers, archives ----------------------------------------------

SCENE_FIELDS = ["size", "found", "layers", "original", "format", "version"]
LAYER_FIELDS = ["name", "file", "box", "z", "visible"]


def _scene_json() -> dict[str, Any]:
    original, layers, record = scene_parts()
    data = json.loads(record.to_json())
    data["original"] = "original.png"
    data["layers"] = [
        {"name": "background", "file": "00_background.png", "box": [0, 0, *SIZE], "z": 0},
        {"name": "ball", "file": "01_ball.png", "box": list(BALL), "z": 1},
    ]
    return data


def _folder_zip(data: Any) -> bytes:
    original, layers, _ = scene_parts()
    files: dict[str, bytes | str] = {"scene.json": json.dumps(data, allow_nan=True)}
    for name, rgba in (("original.png", original), ("00_background.png", layers[0].rgba),
                       ("01_ball.png", layers[1].rgba[8:20, 10:22])):  # fmt: skip
        buffer = io.BytesIO()
        from PIL import Image

        Image.fromarray(np.ascontiguousarray(rgba)).save(buffer, format="PNG")
        files[name] = buffer.getvalue()
    return zipped(files)


def _composed(scene: LayeredScene | None) -> None:
    if scene is not None:
        result = clear_or_correct(lambda: compose(scene))
        if result is not None:
            assert result.image.shape == (SIZE[1], SIZE[0], 3)


@fuzz(60)
@given(
    st.sampled_from(
        SCENE_FIELDS + [f"layers.1.{name}" for name in LAYER_FIELDS] + ["found.0.box", "found.0.name"]
    ),
    json_values
    | st.lists(numberish, min_size=4, max_size=4)
    | st.sampled_from(["../x.png", "/etc/passwd", "球"]),
)
def test_scene_json_fields(field: str, value: Any) -> None:
    data = _scene_json()
    *path, last = field.split(".")
    place: Any = data
    for part in path:
        place = place[int(part)] if part.isdigit() else place[part]
    place[last] = value
    _composed(clear_or_correct(lambda: read_scene_bytes(_folder_zip(data), "scene.zip")))


@fuzz(40)
@given(json_values)
def test_scene_json_documents(data: Any) -> None:
    assert clear_or_correct(lambda: read_scene_bytes(_folder_zip(data), "scene.zip")) is None


@fuzz(60)
@given(
    st.dictionaries(
        st.sampled_from(["name", "src", "x", "y", "visibility", "opacity"]),
        st.text(max_size=10) | numberish.map(str) | st.sampled_from(["data/01_background.png", "../x", "/x"]),
        max_size=6,
    )
)
def test_ora_stack_layers(attributes: dict[str, str]) -> None:
    from xml.sax.saxutils import quoteattr

    printable = {k: "".join(c for c in v if c.isprintable()) for k, v in attributes.items()}
    element = "<layer " + " ".join(f"{k}={quoteattr(v)}" for k, v in printable.items()) + "/>"
    _composed(clear_or_correct(lambda: read_scene_bytes(ora_with(stack_layer=element), "edited.ora")))


def _stack_xml(declaration: str, doctype: str, image: dict[str, str], body: str) -> bytes:
    from xml.sax.saxutils import quoteattr

    attributes = " ".join(f"{k}={quoteattr(v)}" for k, v in image.items())
    layers = '<layer name="background" src="data/01_background.png"/><layer name="original" ' \
        'src="data/00_original.png" visibility="hidden"/>'  # fmt: skip
    return f"{declaration}{doctype}<image {attributes}><stack>{body}{layers}</stack></image>".encode()


XML_ENCODINGS = ["UTF-8", "cp1252", "bogus", "utf-16", "euc-jp", "rot13", "idna"]
LAUGHS = '<!DOCTYPE image [<!ENTITY a "aaaaaaaaaa">' + "".join(
    f'<!ENTITY {chr(98 + n)} "{("&" + chr(97 + n) + ";") * 10}">' for n in range(9)
) + "]>"  # fmt: skip


@fuzz(60)
@given(
    st.sampled_from(["", '<?xml version="9"?>']
                    + [f'<?xml version="1.0" encoding="{name}"?>' for name in XML_ENCODINGS]),
    st.sampled_from(["", LAUGHS, '<!DOCTYPE image [<!ENTITY e SYSTEM "file:///etc/passwd">]>']),
    st.dictionaries(st.sampled_from(["w", "h", "version"]),
                    st.sampled_from(["48", "32", "0", "-1", "1e9", "nan"]) | numberish.map(str)),
    st.sampled_from(["", "<stack>" * 40 + "</stack>" * 40, '<layer src="data/02_ball.png" x="&j;"/>',
                     '<layer src="data/02_ball.png"><layer src="/etc/passwd"/></layer>', "<layer/>"]),
)  # fmt: skip
# An encoding in the XML declaration that Python lacks or expat cannot use raised LookupError or
# ValueError out of the ORA reader.
@example('<?xml version="1.0" encoding="bogus"?>', "", {"w": "48", "h": "32"}, "")
@example('<?xml version="1.0" encoding="euc-jp"?>', "", {"w": "48", "h": "32"}, "")
# A canvas of another size than the scene record's was cropped or padded to the record's, silently.
@example('<?xml version="1.0" encoding="UTF-8"?>', "", {"w": "48", "h": "30"}, "")
def test_ora_stack_documents(declaration: str, doctype: str, image: dict[str, str], body: str) -> None:
    stack = _stack_xml(declaration, doctype, image, body)
    scene = clear_or_correct(lambda: read_scene_bytes(ora_with(extra={"stack.xml": stack}), "edited.ora"))
    if scene is not None:
        canvas = StackImageModel.model_validate(image)
        assert scene.record.size == (canvas.w, canvas.h)
    _composed(scene)


_PSD = document_bytes("psd", *scene_parts())


@fuzz(60)
@given(st.integers(0, 400) | st.integers(0, len(_PSD)), st.binary(min_size=1, max_size=8))
# The scene record's height changed from 32 to 30: the 48x32 canvas was cropped to it, silently.
@example(_PSD.index(b'"size": [48, 32]') + 14, b"0")
def test_psd_reader_on_damaged_documents(offset: int, patch: bytes) -> None:
    document = bytearray(_PSD)
    document[offset : offset + len(patch)] = patch
    _composed(clear_or_correct(lambda: read_scene_bytes(bytes(document), "edited.psd", max_pixels=4096**2)))




# Names zipfile can store: it cuts a name at NUL and cannot encode lone surrogates.
ENTRY_NAMES = st.text(st.characters(codec="utf-8", exclude_characters="\0"), min_size=1, max_size=20)


@fuzz(60)
@given(st.dictionaries(ENTRY_NAMES, st.binary(max_size=20), max_size=4), st.integers(0, 64))
def test_archives(entries: dict[str, bytes], limit: int) -> None:
    data = zipped(entries)  # type: ignore[arg-type]
    archive = clear_or_correct(lambda: open_archive(data, "x.zip", ArchiveLimits(max_member_bytes=limit)))
    if archive is not None:
        for name in archive.names:
            assert not name.startswith("/") and ".." not in name.split("/")
            assert len(archive.read(name)) <= limit


# -- manifests and session files -----------------------------------------------------------------------

# Names the file system refuses or the shell would expand: too long (280 bytes), an unknown ~user.
ODD_NAMES = ["😀" * 70, "~nosuchuser/a.png", "a.png/"]
REMOVE_BALL = {"operations": [{"op": "remove", "target": {"phrase": "ball"}}]}
manifest_line = st.fixed_dictionaries(
    {},
    optional={
        "image": st.sampled_from(["a.png", "../a.png", "/etc/passwd", "missing.png", "", *ODD_NAMES])
        | json_values,
        "plan": st.just(REMOVE_BALL) | json_values,
        "boxes": st.dictionaries(st.just("ball"), st.lists(numberish, max_size=5), max_size=1) | json_values,
        "output": st.sampled_from(["a.png", "./o.png", "o.png", "../o.png", "sub//o.png", "o.txt"])
        | json_values,
        "masks": st.dictionaries(st.just("ball"), st.sampled_from(["a.png", *ODD_NAMES])) | json_values,
        "refine_mask": st.sampled_from(["a.png", *ODD_NAMES]),
        "options": json_values,
    },
)


def _json_line(record: dict[str, Any], ascii_only: bool) -> str:
    return json.dumps(record, allow_nan=True, ensure_ascii=ascii_only)


@fuzz(40)
@given(
    st.lists(
        st.builds(_json_line, manifest_line, st.booleans())
        | st.text(max_size=20).filter(lambda t: "\r" not in t),
        max_size=4,
    )
)
# JSON text may hold U+2028 unescaped; the reader cut the line there and refused both halves.
@example(['{"image": "a.png", "instruction": "remove\u2028the ball"}'])
# A name too long for the file system raised OSError out of the whole batch.
@example([json.dumps({"image": "a.png", "plan": REMOVE_BALL, "masks": {"ball": "😀" * 70}}), "{}"])
def test_manifests(tmp_path_factory, lines: list[str]) -> None:
    folder = tmp_path_factory.mktemp("manifest")
    save_image(picture(), folder / "a.png")
    manifest = folder / "m.jsonl"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    parsed = clear_or_correct(lambda: read_manifest(manifest))
    if parsed is None:
        return
    assert len(parsed) == sum(1 for line in "\n".join(lines).split("\n") if line.strip())
    assert all(line.problem is None or "\n" not in line.problem for line in parsed)
    batch = Batch(parsed, folder, folder, RunSettings())  # every line sorted, none raising
    assert len(batch.jobs) + len(batch.invalid) == len(parsed)
    assert all(Path(job.image) != (folder / job.output).resolve() for job in batch.jobs)


@fuzz(40)
@given(
    st.fixed_dictionaries(
        {"format": st.just(1) | json_values, "current": numberish | json_values},
        optional={
            "turns": st.lists(
                st.fixed_dictionaries(
                    {
                        "image": st.sampled_from(["turns/0000/image.png", "../x.png", "/etc/passwd"])
                        | json_values,
                        "masks": json_values,
                        "instruction": json_values,
                        "plan": json_values,
                        "target": json_values,
                    }
                ),  # fmt: skip
                max_size=2,
            ),
            "log": json_values,
            "question": json_values,
        },
    )
    | json_values
)
def test_session_files(tmp_path_factory, data: Any) -> None:
    folder: Path = tmp_path_factory.mktemp("session")
    (folder / "turns" / "0000").mkdir(parents=True)
    save_image(picture(), folder / "turns" / "0000" / "image.png")
    (folder / "session.json").write_text(json.dumps(data, allow_nan=True), encoding="utf-8")
    saved = clear_or_correct(lambda: SessionStore(folder).load())
    if saved is not None:
        assert 0 <= saved.current < len(saved.turns)


def test_folder_scenes_read_back(tmp_path: Path) -> None:
    """The fuzzed documents above start from a scene that reads and composes unchanged."""
    scene = read_scene(write_folder(tmp_path / "scene"))
    assert compose(scene).plan is None
    assert read_scene_bytes(_folder_zip(_scene_json()), "scene.zip").layer("ball").box == BALL
