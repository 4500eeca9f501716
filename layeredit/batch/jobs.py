"""From manifest lines to checked, planned jobs, each with the hash that lets a rerun skip it.

Everything here runs before any model loads: files exist and are pictures, plans parse,
instructions are understood, options are known and valid, outputs do not collide.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from layeredit.agent.planner_options import PlannerOptions
from layeredit.api import make_plan
from layeredit.batch.manifest import ManifestLine
from layeredit.editing import Planner
from layeredit.engine.options import OPTION_CLASSES as ENGINE_OPTION_CLASSES
from layeredit.engine.options import EngineChoice, EngineName
from layeredit.errors import BudgetError, InputError, clip
from layeredit.imageio import WRITABLE_SUFFIXES, check_budget

# A line's options: every engine option but the engine choice, which the whole run shares.
OPTION_CLASSES = tuple(cls for cls in ENGINE_OPTION_CLASSES if cls is not EngineChoice)
# EXIF orientations that turn the picture a quarter turn, swapping width and height.
QUARTER_TURNS = {5, 6, 7, 8}


@dataclass(frozen=True)
class RunSettings:
    """What every line of a run shares: the engine, its model and device, default options."""

    engine: EngineName = "pixel"
    model: str | None = None
    device: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # per-line options override these
    planner: PlannerOptions = field(default_factory=PlannerOptions)  # reads the lines' instructions

    def __post_init__(self) -> None:
        if isinstance(self.planner, dict):  # settings sent to Ray workers travel as plain dicts
            object.__setattr__(self, "planner", PlannerOptions(**self.planner))


@dataclass(frozen=True)
class Job:
    """One checked line, ready for a worker; plain data so it crosses process and node boundaries."""

    line: int
    key: str  # hash of the inputs and options: a rerun skips a line whose key is done
    image: str  # absolute paths
    plan: dict[str, Any]
    masks: dict[str, str]
    boxes: dict[str, tuple[int, int, int, int]]
    refine_mask: str | None
    output: str  # relative to the output folder
    options: dict[str, Any]  # run defaults merged with the line's own

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    def inputs(self) -> list[str]:
        """Every file the job reads."""
        return [self.image, *self.masks.values(), *([self.refine_mask] if self.refine_mask else [])]

    @classmethod
    def from_json(cls, text: str) -> Job:
        data = json.loads(text)
        data["boxes"] = {name: tuple(box) for name, box in data["boxes"].items()}
        return cls(**data)


def prepare(entry: ManifestLine, base: Path, settings: RunSettings, planner: Planner | None = None) -> Job:
    """The job for a manifest line, its instruction read by ``planner`` (default: the rules); a
    ValueError says what is wrong with it."""
    if entry.problem:
        raise InputError(entry.problem)
    fields = entry.fields
    image = _existing(base, fields["image"], "image")
    size = picture_size(image)
    masks = {name: _existing(base, path, f"mask {name!r}") for name, path in fields.get("masks", {}).items()}
    for name, path in masks.items():
        picture_size(path, f"mask {name!r}")
    refine = _existing(base, fields["refine_mask"], "refine mask") if "refine_mask" in fields else None
    if refine is not None:
        picture_size(refine, "refine mask")
    boxes = {name: tuple(int(round(v)) for v in box) for name, box in fields.get("boxes", {}).items()}
    options = check_options({**settings.options, **fields.get("options", {})})
    plan = make_plan(fields["instruction"] if "instruction" in fields else fields["plan"], size, planner)
    output = fields.get("output") or f"{entry.number}-{image.stem}.png"
    check_output_name(output)
    inputs = {
        "image": file_hash(image),
        "masks": {name: file_hash(path) for name, path in masks.items()},
        "refine_mask": file_hash(refine) if refine else None,
        "boxes": boxes,
        "plan": json.loads(plan.to_json()),
        "output": output,
        "options": options,
        "engine": settings.engine,
        "model": settings.model,
    }
    return Job(
        line=entry.number,
        key=hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest(),
        image=str(image),
        plan=inputs["plan"],
        masks={name: str(path) for name, path in masks.items()},
        boxes=boxes,  # type: ignore[arg-type]  # four ints, checked with the manifest
        refine_mask=str(refine) if refine else None,
        output=output,
        options=options,
    )


def _existing(base: Path, relative: str, what: str) -> Path:
    try:
        path = (base / Path(relative).expanduser()).resolve()
        found = path.is_file()
    except (OSError, RuntimeError) as exc:  # a name too long for the file system, an unknown ~user
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise InputError(f"{what} cannot be opened: {clip(relative)} ({why})") from None
    if not found:
        raise InputError(f"{what} not found: {relative} (paths are relative to the manifest's folder)")
    return path


def picture_size(path: Path, what: str = "image") -> tuple[int, int]:
    """Width and height as the picture is shown (EXIF orientation applied), from its header only,
    within the pixel budget."""
    try:
        with warnings.catch_warnings(), Image.open(path) as img:
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            width, height = img.size
            turned = img.getexif().get(0x0112) in QUARTER_TURNS
    except Image.DecompressionBombError:
        raise BudgetError(f"{what} {path.name} is far over the pixel limit; scale it down") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"{what} {path.name} cannot be read as a picture ({clip(str(exc))})") from None
    check_budget((width, height), f"{what} {path.name}")
    return (height, width) if turned else (width, height)


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_output_name(output: str) -> None:
    path = Path(output)
    if path.is_absolute() or ".." in path.parts:
        raise InputError(f"output {output!r} must be a name inside the output folder")
    if path.suffix.lower() not in WRITABLE_SUFFIXES:
        raise InputError(f"output {output!r} has no image suffix; use one of {', '.join(WRITABLE_SUFFIXES)}")


def check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Engine options with known names and values of the right type (diffusion ones are kept for
    the designedit engine and ignored by the pixel engine)."""
    hints: dict[str, Any] = {}
    for cls in OPTION_CLASSES:
        hints.update(typing.get_type_hints(cls))
    for name, value in options.items():
        if name not in hints:
            raise InputError(f"unknown option {name!r}; options are {', '.join(sorted(hints))}")
        if not _fits(value, hints[name]):
            raise InputError(f"option {name!r} must be {_type_name(hints[name])}, got {value!r}")
    for cls in OPTION_CLASSES:
        names = {f.name for f in dataclasses.fields(cls)}
        cls(**{name: value for name, value in options.items() if name in names})  # value checks
    return dict(sorted(options.items()))


def _fits(value: Any, hint: Any) -> bool:
    if typing.get_origin(hint) is typing.Literal:  # a choice of words, such as hd_strategy
        return isinstance(value, str) and value in typing.get_args(hint)
    allowed = typing.get_args(hint) or (hint,)
    if isinstance(value, bool):
        return bool in allowed
    if value is None:
        return type(None) in allowed
    if isinstance(value, int):
        return int in allowed or float in allowed
    return isinstance(value, float) and float in allowed


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(map(str, typing.get_args(hint)))
    names = [t.__name__ for t in typing.get_args(hint) or (hint,) if t is not type(None)]
    return " or ".join("a number" if n == "float" else f"an {n}" if n == "int" else f"a {n}" for n in names)
