"""The edit plan: the one schema spoken by planners, tools, engines and users.

Coordinates: ``dx``/``dy``/``to`` are fractions of the image width and height,
image axes (+x right, +y down, ``(0, 0)`` top left); ``to`` is where the object's centre goes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from layeredit.admission.documents import MAX_ITEMS, MAX_NAME, MAX_PATH, MAX_TEXT, load_json
from layeredit.errors import LayereditError, clip

# A real plan has a few operations; the bound keeps what one plan may ask of the engine finite.
MAX_OPERATIONS = 64

Select = Literal["all", "largest", "smallest", "leftmost", "rightmost", "topmost", "bottommost", "index"]


def within(text: str | None, limit: int, what: str) -> None:
    """Refuse ``text`` longer than ``limit`` characters."""
    if text is not None and len(text) > limit:
        raise ValueError(f"{what} is longer than {limit} characters")


class PlanError(LayereditError, ValueError):
    """An edit plan that does not validate; the message says what is wrong and where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Strict):
    """A phrase naming objects in the image, and which of the matches to use."""

    phrase: str = Field(min_length=1, description="Noun phrase naming the object, e.g. 'red car'.")
    select: Select | None = Field(
        default=None, description="Which matches to use; omitted means the best-scoring one."
    )
    index: int | None = Field(
        default=None,
        description="With select='index': 0-based position, left to right; a negative index counts "
        "from the right (-1 is the rightmost, -2 the second from the right).",
    )
    description: str | None = Field(
        default=None,
        description="The object as the user described it ('man in the red jacket'), for detection; "
        "'phrase' stays the head noun with its adjectives ('man').",
    )

    @model_validator(mode="after")
    def _index_goes_with_select(self) -> Target:
        if not self.phrase.strip():
            raise ValueError("target phrase is blank")
        # Bounds checked here, not as Field constraints: the plan's JSON Schema becomes an LLM's
        # grammar, where a length bound unrolls into one rule per character.
        within(self.phrase, MAX_NAME, "target phrase")
        within(self.description, MAX_TEXT, "target description")
        if self.index is not None and not -MAX_ITEMS <= self.index < MAX_ITEMS:
            raise ValueError(f"index must be between {-MAX_ITEMS} and {MAX_ITEMS - 1}")
        if self.select == "index" and self.index is None:
            raise ValueError("select='index' needs an 'index' (0 = leftmost match)")
        if self.index is not None and self.select != "index":
            raise ValueError("'index' is only meaningful with select='index'")
        return self

    @property
    def grounding_phrase(self) -> str:
        """What a detector looks for: the description when there is one, else the phrase."""
        return self.description or self.phrase

    @property
    def key(self) -> str:
        """A stable identifier for this target (phrase plus selection)."""
        if self.select is None:
            return self.phrase
        if self.select == "index":
            return f"{self.phrase}[{self.index}]"
        return f"{self.phrase}[{self.select}]"


class Point(_Strict):
    x: float = Field(ge=0.0, le=1.0, description="Fraction of the image width, 0 = left edge.")
    y: float = Field(ge=0.0, le=1.0, description="Fraction of the image height, 0 = top edge.")


Offset = Annotated[float, Field(gt=-1.0, lt=1.0)]


Side = Literal["left", "right", "above", "below"]


class Beside(_Strict):
    """A place next to another object; the executor works it out from both objects' masks."""

    anchor: Target = Field(description="The object to stand next to.")
    side: Side | None = Field(
        default=None, description="Which side of the anchor; omitted means the side nearer the object."
    )


class Move(_Strict):
    """Move an object by (dx, dy), so that its centre lands on ``to``, next to another object
    (``beside``) or part of the way to one (``toward``, ``amount`` = fraction of the gap closed)."""

    op: Literal["move"] = "move"
    target: Target
    dx: Offset = 0.0
    dy: Offset = 0.0
    to: Point | None = None
    beside: Beside | None = None
    toward: Target | None = Field(default=None, description="Move closer to this object.")
    amount: float | None = Field(
        default=None, gt=0.0, le=1.0, description="With 'toward': fraction of the gap closed (default 0.5)."
    )

    @model_validator(mode="after")
    def _one_kind_of_motion(self) -> Move:
        kinds = [
            name
            for name, given in (
                ("'dx'/'dy'", bool(self.dx or self.dy)),
                ("'to'", self.to is not None),
                ("'beside'", self.beside is not None),
                ("'toward'", self.toward is not None),
            )
            if given
        ]
        if len(kinds) > 1:
            raise ValueError(f"give either {kinds[0]} or {kinds[1]}, not both")
        if not kinds:
            raise ValueError("a move needs a nonzero 'dx'/'dy' or a 'to' point (or 'beside'/'toward')")
        if self.amount is not None and self.toward is None:
            raise ValueError("'amount' is only meaningful with 'toward'")
        return self


class Remove(_Strict):
    """Remove an object and paint in what was behind it."""

    op: Literal["remove"] = "remove"
    target: Target


class Resize(_Strict):
    """Scale an object about its centre (2.0 = twice as large), or to the height of ``like``."""

    op: Literal["resize"] = "resize"
    target: Target
    scale: float | None = Field(default=None, gt=0.0, le=10.0)
    like: Target | None = Field(default=None, description="Make the object as tall as this one.")

    @model_validator(mode="after")
    def _changes_something(self) -> Resize:
        if (self.scale is None) == (self.like is None):
            raise ValueError("give either 'scale' or 'like'")
        if self.scale == 1.0:
            raise ValueError("scale 1.0 leaves the object unchanged")
        return self


class Flip(_Strict):
    """Mirror an object about its centre."""

    op: Literal["flip"] = "flip"
    target: Target
    axis: Literal["horizontal", "vertical"] = "horizontal"


class Duplicate(_Strict):
    """Add a copy of an object offset by (dx, dy), or next to another object (``beside``);
    (0, 0) places it beside the original."""

    op: Literal["duplicate"] = "duplicate"
    target: Target
    dx: Offset = 0.0
    dy: Offset = 0.0
    beside: Beside | None = None

    @model_validator(mode="after")
    def _one_kind_of_placement(self) -> Duplicate:
        if self.beside is not None and (self.dx or self.dy):
            raise ValueError("give either 'beside' or 'dx'/'dy', not both")
        return self


class Swap(_Strict):
    """Exchange the positions of two objects (each goes to the other's centre)."""

    op: Literal["swap"] = "swap"
    target: Target
    other: Target


class Reorder(_Strict):
    """Bring an object in front of, or send it behind, the other object layers."""

    op: Literal["reorder"] = "reorder"
    target: Target
    position: Literal["front", "back"]


class Pan(_Strict):
    """Move the camera by (dx, dy); the newly exposed strip is painted."""

    op: Literal["pan"] = "pan"
    dx: Offset = 0.0
    dy: Offset = 0.0

    @model_validator(mode="after")
    def _moves(self) -> Pan:
        if not (self.dx or self.dy):
            raise ValueError("a pan needs a nonzero 'dx' or 'dy'")
        return self


class ZoomOut(_Strict):
    """Shrink the content about the centre to ``scale``; the new border is painted."""

    op: Literal["zoom_out"] = "zoom_out"
    scale: float = Field(gt=0.0, lt=1.0, description="Content size after zooming out, in (0, 1).")


class Insert(_Strict):
    """Cut ``target`` out of another image (``source``) and place it in this one.

    The object keeps its relative position in the source image unless moved by ``dx``/``dy`` or
    placed with ``to``; ``scale`` resizes it about its centre.
    """

    op: Literal["insert"] = "insert"
    source: str = Field(min_length=1, description="Path of the image the object is taken from.")
    target: Target
    dx: Offset = 0.0
    dy: Offset = 0.0
    to: Point | None = None
    scale: float = Field(default=1.0, gt=0.0, le=10.0)

    @model_validator(mode="after")
    def _one_kind_of_placement(self) -> Insert:
        within(self.source, MAX_PATH, "insert source")
        if self.to is not None and (self.dx or self.dy):
            raise ValueError("give either 'to' or 'dx'/'dy', not both")
        return self


Operation = Annotated[
    Move | Remove | Resize | Flip | Duplicate | Swap | Reorder | Pan | ZoomOut | Insert,
    Field(discriminator="op"),
]
# What a follow-up instruction in a chat may refer back to: the last object named ("move it
# left"), or the last operation, whose object "it" means and whose motion "a bit more" repeats.
Antecedent = Target | Operation

OP_NAMES: tuple[str, ...] = (
    "move",
    "remove",
    "resize",
    "flip",
    "duplicate",
    "swap",
    "reorder",
    "pan",
    "zoom_out",
    "insert",
)


class EditPlan(_Strict):
    """An ordered list of operations, applied one after another."""

    operations: list[Operation] = Field(min_length=1)

    @model_validator(mode="after")
    def _few_operations(self) -> EditPlan:
        if len(self.operations) > MAX_OPERATIONS:
            raise ValueError(f"a plan has at most {MAX_OPERATIONS} operations, not {len(self.operations)}")
        return self

    def targets(self) -> list[Target]:
        """Every target the plan names in this image, in order, without repeats.

        Insert targets are excluded: they name objects in their ``source`` image.
        """
        seen: dict[str, Target] = {}
        for op in self.operations:
            if isinstance(op, Insert):
                continue
            for target in (getattr(op, "target", None), *related(op)):
                if target is not None:
                    seen.setdefault(target.key, target)
        return list(seen.values())

    def summary(self) -> str:
        """A short human summary, e.g. ``move boy (-0.20, +0.00); resize boy x1.3``."""
        return "; ".join(_summarise(op) for op in self.operations)

    def to_json(self, indent: int | None = None) -> str:
        return self.model_dump_json(indent=indent, exclude_none=True)

    @classmethod
    def parse(cls, data: str | bytes | dict[str, Any]) -> EditPlan:
        """Validate a plan from JSON text or a dict, raising :class:`PlanError` with a clear message."""
        if isinstance(data, (str, bytes)):
            data = load_json(data, "edit plan", PlanError)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise PlanError(describe_validation_error(exc)) from None


def related(op: Operation) -> list[Target]:
    """The objects an operation names besides its target: the swap partner, the anchor of a
    relative placement, the object to match in size."""
    others = [getattr(op, "other", None), getattr(op, "toward", None), getattr(op, "like", None)]
    beside = getattr(op, "beside", None)
    if beside is not None:
        others.append(beside.anchor)
    return [target for target in others if target is not None]


def _summarise(op: Operation) -> str:
    words = [op.op]
    for role in ("target", "other"):
        target = getattr(op, role, None)
        if target is not None:
            words.append(target.key if role == "target" else f"<-> {target.key}")
    if getattr(op, "to", None) is not None:
        words.append(f"to ({op.to.x:.2f}, {op.to.y:.2f})")
    elif getattr(op, "dx", 0) or getattr(op, "dy", 0):
        words.append(f"({op.dx:+.2f}, {op.dy:+.2f})")
    if getattr(op, "beside", None) is not None:
        side = op.beside.side
        words.append(f"{side} of" if side in ("left", "right") else side or "beside")
        words.append(op.beside.anchor.key)
    if getattr(op, "toward", None) is not None:
        words.append(f"toward {op.toward.key}" + (f" by {op.amount:g}" if op.amount else ""))
    if getattr(op, "like", None) is not None:
        words.append(f"as tall as {op.like.key}")
    elif isinstance(op, (Resize, ZoomOut)) or (isinstance(op, Insert) and op.scale != 1.0):
        words.append(f"x{op.scale:g}")
    words += [str(getattr(op, attr)) for attr in ("axis", "position", "source") if hasattr(op, attr)]
    return " ".join(words)


def describe_validation_error(exc: ValidationError) -> str:
    """One readable line per problem, each with where it is (``operations.0.scale``)."""
    problems = []
    for err in exc.errors():
        where = clip(".".join(str(part) for part in err["loc"])) or "plan"  # keys are user text
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "union_tag_invalid":
            message = f"unknown op {err['input'].get('op')!r}; known ops: {', '.join(OP_NAMES)}"
        elif err["type"] == "union_tag_not_found":
            message = f"operation has no 'op'; known ops: {', '.join(OP_NAMES)}"
        problems.append(f"{where}: {message}")
    return "invalid edit plan: " + "; ".join(problems)


def plan_json_schema() -> dict[str, Any]:
    """JSON Schema of :class:`EditPlan`, for LLM structured output and tool calling."""
    return EditPlan.model_json_schema()
