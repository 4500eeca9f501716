"""The offline rule-based planner: plain English in, :class:`~layeredit.plan.EditPlan` out.

No model is involved. An instruction is normalised (case, punctuation, spelled-out numbers,
polite wrappers such as "please" or "could you"), split into clauses at ",", ";", "and",
"then", "after that" and "also", and each clause is read as *verb + noun phrase + modifiers*.
A clause without a verb continues the previous one: "up 10% and to the right 10%" is one move,
"remove the cup and the spoon" two removes, "swap the cat and the dog" one swap.

Amounts (fractions of the image width/height; pixels are divided by the image size):

=====================================  =======  ====================  =================
wording                                move     pan                   duplicate offset
=====================================  =======  ====================  =================
a direction alone ("left")             0.2      0.2                   0.2
"a bit", "slightly", "a little", ...   0.1      0.1                   0.1
"a lot", "far", "way", ...             0.35     0.35                  0.35
=====================================  =======  ====================  =================

"nudge" moves 0.1 by default; "raise"/"lift" and "lower" move up/down when no direction is
given. Offsets beyond the frame ("2000 pixels") are clamped to +-0.99 rather than refused, so a
user asking for "all the way" still gets the largest move the plan allows.

Resize: "bigger" 1.3, "a bit bigger" 1.15, "much bigger" 1.6; "smaller" 0.75, "a bit smaller"
0.87, "much smaller" 0.5. "by 50%" is 1.5 when growing and 0.5 when shrinking, "by half" 1.5 /
0.5, "to 80%" 0.8, "twice as large" / "2x" / "double the size" 2, "three times smaller" 1/3.
Zoom out: 0.8 by default, "a little" 0.9, "a lot" 0.6, "to 70%" 0.7, "by 20%" 0.8, "2x" 0.5.
A copy without a direction is placed beside the original (dx = dy = 0).

Places: corners ("the top left corner" -> (0, 0)), "the center" -> (0.5, 0.5), "to the top" or
"the top edge" -> (0.5, 0), "the left edge" / "the far left" -> (0, 0.5); "to the left" and
"the left side" are directions. "x=100, y=200" and "(0.3, 0.4)" are points (pixels when a value
is above 1).

Selecting among several matches: "on the left", "the left cat", "the leftmost" -> leftmost
(likewise right/top/bottom); a corner selects by its horizontal side; "largest"/"biggest",
"smallest"/"tiniest"; "all the balls", "every ball", "both cats" or a plural noun -> all, with
the noun made singular; "the second bottle (from the left)" -> index 1. Index counts from the
left, so only the *first* from the right/top/bottom can be expressed (rightmost/topmost/
bottommost); "the third cat from the right" raises :class:`PlannerError`. "The last cat" is the
rightmost. Relative placements ("next to the dog") also raise, except "behind"/"in front of",
which become a reorder.

Pronouns ("it", "them", "that", "the copy", "the one on the left") refer to the previous target
in the instruction, or to ``previous`` (the last turn's target) in a chat.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Union

from pydantic import ValidationError

from layeredit.agent import lexicon as lx
from layeredit.agent.errors import PlannerError
from layeredit.plan import (
    Antecedent,
    Duplicate,
    EditPlan,
    Flip,
    Insert,
    Move,
    Operation,
    Pan,
    Point,
    Remove,
    Reorder,
    Resize,
    Swap,
    Target,
    ZoomOut,
    describe_validation_error,
)

MOVE_DEFAULT, MOVE_SMALL, MOVE_LARGE = 0.2, 0.1, 0.35
GROW_DEFAULT, GROW_SMALL, GROW_LARGE = 1.3, 1.15, 1.6
SHRINK_DEFAULT, SHRINK_SMALL, SHRINK_LARGE = 0.75, 0.87, 0.5
ZOOM_DEFAULT, ZOOM_SMALL, ZOOM_LARGE = 0.8, 0.9, 0.6
MAX_OFFSET = 0.99  # the plan requires |dx|, |dy| < 1
MAX_SCALE = 10.0

Intensity = Literal["small", "normal", "large"]


# --- modifiers: what a clause says besides its verb and object -------------------------------


@dataclass(frozen=True)
class Direction:
    dx: int
    dy: int
    # "to the left": for ops that do not move anything this names a side, i.e. a selection.
    side_phrase: bool = False


@dataclass(frozen=True)
class Amount:
    kind: Literal["pixels", "fraction", "number", "vague"]
    value: float = 0.0
    intensity: Intensity = "normal"


@dataclass(frozen=True)
class Factor:
    """A size multiplier ("twice", "3x", "to 80%", "half the size")."""

    value: float
    sign: int = 0  # -1 for "three times smaller"


@dataclass(frozen=True)
class Comparative:
    sign: int
    intensity: Intensity = "normal"


@dataclass(frozen=True)
class Place:
    x: float
    y: float
    preposition: Literal["to", "at", "toward"]
    sides: tuple[str, ...] = ()
    edge: bool = False  # "edge", "far", "very": the exact border rather than the side
    relative_clause: bool = False  # "the cat that is on the left" always selects


@dataclass(frozen=True)
class PointRef:
    """A coordinate pair written in the instruction ("x=100, y=200"), by its position."""

    index: int


@dataclass(frozen=True)
class Relative:
    """A place relative to another object ("next to the dog"): describes, cannot be a target."""

    text: str


@dataclass(frozen=True)
class Layer:
    position: Literal["front", "back"]


@dataclass(frozen=True)
class Axis:
    axis: Literal["horizontal", "vertical"]


@dataclass(frozen=True)
class OrdinalOrigin:
    side: str


@dataclass(frozen=True)
class Selection:
    select: str


@dataclass(frozen=True)
class Source:
    path: str


@dataclass(frozen=True)
class Particle:
    """"out"/"away"/"off" after "take X"."""


@dataclass(frozen=True)
class Disappear:
    """"make X disappear"."""


@dataclass(frozen=True)
class Filler:
    """Words that add nothing ("over", "in the image")."""


@dataclass(frozen=True)
class Joiner:
    """"with"/"for" between two objects ("swap the cat with the dog")."""


@dataclass(frozen=True)
class NounChunk:
    words: tuple[str, ...]


Modifier = Union[  # noqa: UP007 - isinstance() needs a real union object on Python 3.10
    Direction, Amount, Factor, Comparative, Place, PointRef, Relative, Layer, Axis,
    OrdinalOrigin, Selection, Source, Particle, Disappear, Filler, Joiner,
]
Item = Union[Modifier, NounChunk]  # noqa: UP007


# --- normalisation ---------------------------------------------------------------------------

_NUM = r"(?P<num>\d+(?:\.\d+)?|\.\d+)"
_IMG = r"(?:image|picture|photo|photograph|pic|frame|canvas|scene|screen|shot)"
_OF_IMG = rf"(?:\s+of\s+(?:the|this|my|our)\s+(?:whole\s+|entire\s+)?{_IMG})?"
_FILE = re.compile(
    r"(?<![\w/.~-])([\w./\\~-]*\w\.(?:png|jpe?g|webp|bmp|tiff?|gif))(?!\w)", re.IGNORECASE
)
_COORD = r"(\d+(?:\.\d+)?|\.\d+)\s*(px|pixels?|%|percent)?"
_POINTS = (
    re.compile(rf"\(\s*{_COORD}\s*,\s*{_COORD}\s*\)"),
    re.compile(rf"\bx\s*[=:]\s*{_COORD}\s*(?:,|and)?\s*y\s*[=:]\s*{_COORD}"),
)
_CONTRACTIONS = (
    (r"\bi'd\b", "i would"), (r"\blet's\b", "let us"), (r"\bit's\b", "it is"),
    (r"\bthat's\b", "that is"), (r"\bwhat's\b", "what is"), (r"\bi'm\b", "i am"),
    (r"\bwe'd\b", "we would"), (r"\bcan't\b", "cannot"), (r"\bdon't\b", "do not"),
)
_HYPHENS = (
    (r"\b(top|bottom|upper|lower|left|right|up|down|upside|far|center|centre|middle|half)-(\w)",
     r"\1 \2"),
    (r"\b(\w+)-most\b", r"\1most"),
    (r"\b(\w+)-wards?\b", r"\1ward"),
    (r"\bre-(size|scale|position|center|centre)\b", r"re\1"),
)
_CLAUSE_SPLIT = re.compile(
    r"\s*[,;]\s*|\s+(?:and\s+then|and\s+after\s+that|and\s+afterwards|after\s+that|afterwards|"
    r"then|and\s+also|also|and|plus|as\s+well\s+as|followed\s+by|after\s+which)\s+"
)
_LEADING = re.compile(
    r"^(?:please|pls|plz|kindly|just|now|ok(?:ay)?|hey|hi|so|then|and|also|next|finally|lastly|"
    r"afterwards|after\s+that|simply|maybe|perhaps|quickly|can\s+you|could\s+you|"
    r"would\s+you(?:\s+mind)?|will\s+you|would\s+it\s+be\s+possible\s+to|"
    r"i\s+(?:want|need|would\s+like|wish|would\s+love)\s+(?:you\s+)?to|"
    r"we\s+(?:want|need|would\s+like)\s+(?:you\s+)?to|let\s+us|lets|go\s+ahead\s+and|try\s+to|"
    r"help\s+me(?:\s+to)?|you\s+(?:should|can|could|need\s+to|must)|make\s+sure\s+(?:to|you)|"
    r"be\s+sure\s+to|i\s+think\s+you\s+should|it\s+would\s+be\s+(?:nice|great|good)\s+to)"
    r"(?:\s+|$)"
)
_TRAILING = re.compile(
    r"\s+(?:please|thanks|thank\s+you|thx|for\s+me|if\s+you\s+can|if\s+possible|"
    r"if\s+you\s+could|as\s+well|too|now|ok|okay)$"
)


@dataclass
class _Normalised:
    clauses: list[str]
    files: list[str]
    points: list[tuple[float, float, bool]]  # x, y, in pixels


def _normalise(instruction: str) -> _Normalised:
    files: list[str] = []

    def keep_file(match: re.Match[str]) -> str:
        files.append(match.group(1))
        return f" __file{len(files) - 1}__ "

    text = _FILE.sub(keep_file, instruction)
    text = text.lower()
    for old, new in (("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"'),
                     ("\u2013", "-"), ("\u2014", " , "), ("\u00d7", "x")):
        text = text.replace(old, new)
    text = re.sub(r"(\d),(\d{3})\b", r"\1\2", text)

    points: list[tuple[float, float, bool]] = []

    def keep_point(match: re.Match[str]) -> str:
        x, x_unit, y, y_unit = match.groups()
        percent = any(unit in ("%", "percent") for unit in (x_unit, y_unit))
        pixels = any(unit and unit.startswith("p") and unit != "percent"
                     for unit in (x_unit, y_unit))
        x_value, y_value = float(x), float(y)
        if percent:
            x_value, y_value = x_value / 100, y_value / 100
        pixels = pixels or (not percent and max(x_value, y_value) > 1)
        points.append((x_value, y_value, pixels))
        return f" __point{len(points) - 1}__ "

    for pattern in _POINTS:
        text = pattern.sub(keep_point, text)
    text = text.replace("%", " percent ")
    for pattern, replacement in _CONTRACTIONS + _HYPHENS:
        text = re.sub(pattern, replacement, text)
    text = re.sub(r"\b(\d+(?:\.\d+)?)\s*x\b", r"\1 times", text)
    text = re.sub(r"\bx\s*(\d+(?:\.\d+)?)\b", r"\1 times", text)
    text = re.sub(r"\b(\d+(?:\.\d+)?)\s*px\b", r"\1 pixels", text)
    text = re.sub(r"\bcopy\s+(?:and|&)\s+paste\b", "copy-paste", text)
    text = lx.numbers_to_digits(text)
    text = re.sub(r"\.(?!\d)|[!?:]", " , ", text)
    text = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", text)
    text = re.sub(r"[^a-z0-9_.,;' -]", " ", text)
    text = re.sub(r"\s+", " ", text).strip()

    clauses = []
    for raw in _CLAUSE_SPLIT.split(text):
        clause = raw.strip(" -")
        while True:
            stripped = _LEADING.sub("", clause)
            stripped = _TRAILING.sub("", stripped)
            stripped = re.sub(r"\b(?:please|kindly|for me)\b", " ", stripped)
            stripped = re.sub(r"\s+", " ", stripped).strip()
            if stripped == clause:
                break
            clause = stripped
        if clause.startswith(("first ", "first of all ")):
            without = re.sub(r"^first(?:\s+of\s+all)?\s+", "", clause)
            if _match_verb(without) is not None:
                clause = without
        if clause and clause not in ("first", "first of all", "thanks", "thank you"):
            clauses.append(clause)
    return _Normalised(clauses, files, points)


# --- verbs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Verb:
    kind: str
    text: str = ""  # the words that matched
    sign: int = 0  # resize: +1 grow, -1 shrink
    factor: float | None = None  # "double the size of"
    default_dy: int = 0  # "raise", "lower"
    intensity: Intensity = "normal"  # "nudge"
    count: int = 1  # "make 3 copies of"
    reason: str = ""  # why an unsupported verb cannot be planned


_COPY_NOUN = r"(?:copy|copies|duplicates?|clones?|replicas?)"
_COUNT = r"(?:(?:a|an|one|another|(?P<count>\d+))\s+(?:more\s+)?(?:new\s+|extra\s+)?)?"
_VERBS: tuple[tuple[str, _Verb], ...] = (
    (r"zoom\s+in(?:\s+on)?", _Verb(kind="unsupported", reason="only zooming out is supported")),
    (rf"zoom(?:\s+(?:the\s+)?(?:camera|view|lens|{_IMG}))?\s+(?:back\s+)?out(?:\s+of\s+the\s+{_IMG})?"
     r"|(?:pull|draw)\s+(?:the\s+camera\s+)?back|zoom\s+back|dolly\s+out|uncrop|outpaint"
     rf"|widen\s+(?:the\s+)?(?:view|shot|frame|angle|field\s+of\s+view|{_IMG})"
     r"|expand\s+(?:the\s+)?(?:view|canvas|frame|borders?|field\s+of\s+view)"
     r"|show\s+more\s+of\s+(?:the\s+)?(?:scene|surroundings|background|image|picture)",
     _Verb(kind="zoom_out")),
    (rf"(?:pan|tilt|scroll)(?:\s+(?:the\s+)?(?:camera|view|viewpoint|shot|{_IMG}))?",
     _Verb(kind="pan")),
    (r"(?:swap|switch|exchange|interchange|trade|flip|reverse)\s+(?:the\s+)?"
     r"(?:positions?|places|locations?|spots|sides|placement)(?:\s+(?:of|between))?",
     _Verb(kind="swap")),
    (r"swap|switch|exchange|interchange|trade|transpose", _Verb(kind="swap")),
    (r"get\s+rid\s+of|do\s+away\s+with|take\s+(?:out|away|off)|rub\s+out|wipe\s+(?:out|away|off)"
     r"|clear\s+(?:away|out|off)|cut\s+out|edit\s+out|paint\s+out|scrub\s+out|crop\s+out"
     r"|strip\s+out|remove|erase|delete|eliminate|discard|ditch|clear|scrub|wipe|omit|exclude"
     r"|lose|hide|expunge|obliterate|purge",
     _Verb(kind="remove")),
    (r"take|get|cut", _Verb(kind="take")),
    (rf"(?:make|create|add|produce|generate|place|put|insert)\s+{_COUNT}{_COPY_NOUN}\s+of",
     _Verb(kind="duplicate")),
    (r"(?:add|make|create|put|place|insert)\s+(?:another|one\s+more|a\s+second|an\s+extra"
     r"|an\s+additional)",
     _Verb(kind="duplicate")),
    (r"copy-paste|duplicate|copy|clone|replicate", _Verb(kind="duplicate")),
    (r"double\s+(?:the\s+)?size\s+of|double\s+(?:the\s+)?size", _Verb(kind="resize", factor=2.0)),
    (r"triple\s+(?:the\s+)?size\s+of|triple\s+(?:the\s+)?size", _Verb(kind="resize", factor=3.0)),
    (r"halve(?:\s+(?:the\s+)?size\s+of)?", _Verb(kind="resize", factor=0.5)),
    (r"(?:increase|enlarge|boost|grow|expand|raise)\s+(?:the\s+)?size\s+of"
     r"|scale\s+up|size\s+up|blow\s+up|enlarge|grow|expand|magnify|upscale|upsize|supersize"
     r"|embiggen|amplify|inflate|zoom\s+into",
     _Verb(kind="resize", sign=1)),
    (r"(?:reduce|decrease|lower|shrink|lessen|cut|diminish)\s+(?:the\s+)?size\s+of"
     r"|scale\s+down|size\s+down|scale\s+back|shrink|reduce|diminish|downsize|downscale"
     r"|minimi[sz]e|compress|deflate|contract",
     _Verb(kind="resize", sign=-1)),
    (r"resize|rescale|scale|size", _Verb(kind="resize")),
    (r"make", _Verb(kind="make")),
    (r"flip\s+over|flip|mirror|reflect|invert", _Verb(kind="flip")),
    (r"turn(?:\s+over)?", _Verb(kind="turn")),
    (r"bring(?:\s+in)?", _Verb(kind="bring")),
    (r"send", _Verb(kind="send")),
    (r"nudge|budge|inch|bump|jiggle", _Verb(kind="move", intensity="small")),
    (r"raise|lift|elevate|hoist", _Verb(kind="move", default_dy=-1)),
    (r"lower", _Verb(kind="move", default_dy=1)),
    (r"move|shift|drag|slide|push|pull|relocate|reposition|translate|carry|scoot|displace"
     r"|transfer|shove|offset",
     _Verb(kind="move")),
    (r"put|place|position|set|plant|park|stick|locate|situate", _Verb(kind="put")),
    (r"(?:re)?cent(?:er|re)", _Verb(kind="center")),
    (r"insert|paste|import|add|include|incorporate|composite|splice", _Verb(kind="insert")),
    (r"rotate|spin|twist|tilt", _Verb(kind="unsupported", reason="rotation is not supported")),
    (r"recolou?r|colou?r|paint|repaint|tint|dye|brighten|darken|lighten|blur|sharpen|saturate"
     r"|desaturate", _Verb(kind="unsupported", reason="colour and tone edits are not supported")),
    (r"stretch|squash|squeeze|warp|distort|bend|skew",
     _Verb(kind="unsupported", reason="only uniform resizing is supported")),
    (r"crop", _Verb(kind="unsupported", reason="cropping is not supported; try 'zoom out'")),
    (r"replace|change|swap\s+out|transform|convert|turn\s+into",
     _Verb(kind="unsupported", reason="replacing one object by another is not supported")),
)
_VERB_PATTERNS = tuple(
    (re.compile(rf"(?:{pattern})(?=\s|$)"), spec) for pattern, spec in _VERBS
)


def _match_verb(clause: str) -> tuple[_Verb, str] | None:
    for pattern, spec in _VERB_PATTERNS:
        match = pattern.match(clause)
        if match is None:
            continue
        count = match.groupdict().get("count")
        verb = replace(spec, text=match.group(0), count=int(count) if count else 1)
        return verb, clause[match.end():].strip()
    return None


# --- modifier grammar -----------------------------------------------------------------------

_RELATIVE = (r"(?:(?:that|which|who)\s+(?:is|are|sits?|stands?|lies?)\s+|located\s+|sitting\s+"
             r"|standing\s+|lying\s+|positioned\s+|placed\s+|found\s+)")
_PREP = (rf"(?P<prep>{_RELATIVE}?(?:on|at|in|near|along)|(?:all\s+the\s+way\s+|over\s+|up\s+"
         r"|down\s+|right\s+|back\s+)?(?:to|into|onto)|towards?|in\s+the\s+direction\s+of)")
_FRACTIONS = {"half": 0.5, "third": 1 / 3, "quarter": 0.25, "fourth": 0.25, "fifth": 0.2,
              "sixth": 1 / 6, "eighth": 0.125, "tenth": 0.1}
_FRACTION = (r"(?:(?:a|an|one|1)\s+(?P<den>third|quarter|fourth|fifth|sixth|eighth|tenth)"
             r"|(?P<fnum>\d+)\s+(?P<dens>thirds|quarters|fourths|fifths|sixths|eighths|tenths))")
_ABOUT = r"(?:about\s+|around\s+|roughly\s+|approximately\s+|some\s+|another\s+|just\s+)?"
_SIZE_NOUN = r"(?:its|the|their)\s+(?:original\s+|current\s+|present\s+|old\s+)?size"
_MULTIPLES = {"twice": 2.0, "double": 2.0, "thrice": 3.0, "triple": 3.0, "treble": 3.0,
              "quadruple": 4.0}
_BIG_WORDS = {"bigger": "normal", "larger": "normal", "greater": "normal", "taller": "normal",
              "wider": "normal", "huger": "large", "big": "normal", "large": "normal",
              "huge": "large", "enormous": "large", "giant": "large", "gigantic": "large",
              "massive": "large"}
_SMALL_WORDS = {"smaller": "normal", "tinier": "normal", "littler": "normal",
                "shorter": "normal", "narrower": "normal", "thinner": "normal",
                "slimmer": "normal", "small": "normal", "little": "normal", "tiny": "large",
                "minuscule": "large", "miniature": "large", "teeny": "large", "mini": "normal"}
_DIRECTIONS = {
    "left": (-1, 0), "leftward": (-1, 0), "leftwards": (-1, 0), "west": (-1, 0),
    "westward": (-1, 0), "right": (1, 0), "rightward": (1, 0), "rightwards": (1, 0),
    "east": (1, 0), "eastward": (1, 0), "up": (0, -1), "upward": (0, -1), "upwards": (0, -1),
    "higher": (0, -1), "north": (0, -1), "northward": (0, -1), "skyward": (0, -1),
    "down": (0, 1), "downward": (0, 1), "downwards": (0, 1), "lower": (0, 1), "south": (0, 1),
    "southward": (0, 1),
}
_SIDE_POINTS = {"left": (0.0, 0.5), "right": (1.0, 0.5), "top": (0.0, 0.0),
                "bottom": (0.0, 1.0)}
_VERTICAL = {"top": 0.0, "upper": 0.0, "bottom": 1.0, "lower": 1.0}
_HORIZONTAL = {"left": 0.0, "right": 1.0}


def _number(match: re.Match[str]) -> float:
    return float(match.group("num"))


def _fraction(match: re.Match[str]) -> float:
    if match.group("den"):
        return _FRACTIONS[match.group("den")]
    return int(match.group("fnum")) * _FRACTIONS[match.group("dens").rstrip("s")]


def _preposition(text: str | None) -> tuple[Literal["to", "at", "toward"], bool]:
    """The kind of a place's preposition, and whether it sits in a relative clause."""
    text = text or "to"
    relative = re.match(_RELATIVE, text) is not None
    if "toward" in text or "direction" in text:
        return "toward", relative
    if re.search(r"\b(?:to|into|onto)$", text):
        return "to", relative
    return "at", relative


def _place(x: float, y: float, sides: tuple[str, ...], edge: bool = False) -> Callable[
        [re.Match[str]], Modifier]:
    def build(match: re.Match[str]) -> Modifier:
        preposition, relative = _preposition(match.groupdict().get("prep"))
        return Place(x, y, preposition, sides, edge, relative)

    return build


def _corner(match: re.Match[str]) -> Modifier:
    vertical, horizontal = match.group("v"), match.group("h")
    sides = ("top" if _VERTICAL[vertical] == 0 else "bottom", horizontal)
    return _place(_HORIZONTAL[horizontal], _VERTICAL[vertical], sides, True)(match)


def _edge_middle(match: re.Match[str]) -> Modifier:
    side = match.group("side")
    if side in _HORIZONTAL:
        return _place(_HORIZONTAL[side], 0.5, (side,), True)(match)
    sides = ("top",) if _VERTICAL[side] == 0 else ("bottom",)
    return _place(0.5, _VERTICAL[side], sides, True)(match)


def _side(match: re.Match[str]) -> Modifier:
    side = match.group("side")
    preposition, relative = _preposition(match.group("prep"))
    edge = bool(match.group("extreme")) or match.group("part") in (
        "edge", "border", "margin", "end")
    if preposition == "toward" or (side in _HORIZONTAL and preposition == "to" and not edge):
        dx, dy = _DIRECTIONS[side if side in _HORIZONTAL else ("up" if side == "top" else "down")]
        return Direction(dx, dy, side_phrase=True)
    if side in _HORIZONTAL:
        return Place(_HORIZONTAL[side], 0.5, preposition, (side,), edge, relative)
    return Place(0.5, _VERTICAL[side], preposition, (side,), edge, relative)


def _other_image(match: re.Match[str]) -> Modifier:
    raise PlannerError(
        f'could not understand "{match.group(0)}": name the other image by its file, e.g. '
        "'insert the dog from dog.png'"
    )


_MODIFIERS: tuple[tuple[str, Callable[[re.Match[str]], Modifier]], ...] = (
    (r"(?:(?:to|at|into|onto|in|on)\s+)?(?:the\s+)?(?:position|point|location|coordinates?"
     r"|pos|spot)?\s*__point(?P<id>\d+)__",
     lambda m: PointRef(int(m.group("id")))),
    (r"from\s+__file(?P<id>\d+)__", lambda m: Source(m.group("id"))),
    (rf"from\s+(?:the\s+|an\s+)?(?:other|another|second|different)\s+{_IMG}", _other_image),
    (r"(?:in\s+front(?:\s+of\b.*)?|(?:to|into|in)\s+(?:the\s+)?(?:very\s+)?(?:front|foreground|forefront)(?:\s+layer"
     r"|\s+of\s+(?:everything|all|the\s+stack|the\s+others|the\s+other\s+\w+))?"
     r"|to\s+the\s+top\s+(?:layer|of\s+the\s+stack)|on\s+top(?:\s+of\b.*)?"
     r"|forwards?|frontwards?|above\s+everything(?:\s+else)?|(?:one\s+)?layer\s+up|front)",
     lambda m: Layer("front")),
    (r"(?:(?:to|into|in)\s+(?:the\s+)?(?:very\s+)?(?:back|background|rear|backdrop)(?:\s+layer"
     r"|\s+of\s+(?:everything|all|the\s+stack|the\s+others|the\s+other\s+\w+))?"
     r"|to\s+the\s+bottom\s+(?:layer|of\s+the\s+stack)|behind(?:\s.*)?|backwards?"
     r"|(?:one\s+)?layer\s+down|(?:beneath|underneath|below)\s+everything(?:\s+else)?|back)",
     lambda m: Layer("back")),
    (rf"(?:counting\s+|starting\s+|going\s+)?from\s+the\s+(?P<side>left|right|top|bottom)"
     rf"(?:\s+(?:side|end|edge))?{_OF_IMG}",
     lambda m: OrdinalOrigin(m.group("side"))),
    (r"(?:(?:that|which|who)\s+(?:is|are)\s+)?(?:the\s+)?(?:furthest|farthest|most|closest)\s+"
     r"(?:to\s+the\s+)?(?P<side>left|right|top|bottom|up|down)",
     lambda m: Selection({"up": "topmost", "down": "bottommost"}.get(
         m.group("side"), lx.SIDE_SELECT.get(m.group("side"), "")))),
    (rf"out(?:\s+of\s+(?:the|this|my)\s+(?:{_IMG}|way))?|away|off", lambda m: Particle()),
    (rf"(?:from|in|on|of|off|out\s+of|within|inside|across|throughout)\s+(?:the|this|my|our)\s+"
     rf"(?:whole\s+|entire\s+)?{_IMG}",
     lambda m: Filler()),
    (r"disappear|vanish|go\s+away|invisible|gone", lambda m: Disappear()),
    # scale multipliers come before plain amounts: "50% of its size" is not "by 50%"
    (rf"(?:to\s+)?{_ABOUT}{_NUM}\s*percent\s+(?:of\s+)?{_SIZE_NOUN}",
     lambda m: Factor(_number(m) / 100)),
    (rf"to\s+{_ABOUT}{_NUM}\s*percent(?:\s+of\s+{_SIZE_NOUN})?",
     lambda m: Factor(_number(m) / 100)),
    (rf"(?:to\s+)?{_FRACTION}\s+(?:of\s+)?{_SIZE_NOUN}", lambda m: Factor(_fraction(m))),
    (rf"(?:to\s+)?half\s+(?:of\s+)?{_SIZE_NOUN}|half\s+as\s+(?:big|large|tall|wide|high)"
     r"(?:\s+as\s+(?:before|now|it\s+is))?|half\s+size|(?:to|in)\s+half",
     lambda m: Factor(0.5)),
    (rf"(?:to\s+)?(?P<mult>twice|double|thrice|triple|treble|quadruple)(?:\s+(?:as\s+(?:big|large"
     rf"|tall|wide|high)(?:\s+as\s+(?:before|now|it\s+is))?|{_SIZE_NOUN}|in\s+size|size|bigger"
     r"|larger))?",
     lambda m: Factor(_MULTIPLES[m.group("mult")])),
    (rf"(?:by\s+)?(?:a\s+factor\s+of\s+)?{_ABOUT}{_NUM}\s*(?:times|fold)(?:\s+(?:as\s+(?:big"
     rf"|large|tall|wide)|{_SIZE_NOUN}|(?P<cmp>bigger|larger|taller|greater|smaller|tinier"
     r"|shorter)))?",
     lambda m: Factor(_number(m), -1 if m.group("cmp") in ("smaller", "tinier", "shorter")
                      else 0)),
    (rf"by\s+a\s+factor\s+of\s+{_NUM}", lambda m: Factor(_number(m))),
    (rf"to\s+{_NUM}(?!\s*(?:pixels?|percent))", lambda m: Factor(_number(m))),
    # places; the preposition decides between a direction, a destination and a selection
    (rf"{_PREP}\s+(?:the\s+)?(?:very\s+|far\s+|extreme\s+)?(?P<v>top|upper|bottom|lower)\s+"
     r"(?P<h>left|right)(?:\s+hand)?(?:\s+(?:corner|side|part|area|quadrant|region))?"
     rf"{_OF_IMG}", _corner),
    (rf"{_PREP}\s+(?:the\s+)?(?:very\s+|far\s+)?(?P<h>left|right)\s+(?P<v>top|bottom|upper|lower)"
     rf"(?:\s+corner)?{_OF_IMG}", _corner),
    (rf"{_PREP}\s+(?:the\s+)?(?P<side>top|bottom|upper|lower|left|right)\s+(?:center|centre"
     rf"|middle){_OF_IMG}", _edge_middle),
    (rf"{_PREP}\s+(?:the\s+)?(?:center|centre|middle)\s+(?:of\s+the\s+)?(?P<side>top|bottom"
     rf"|left|right)(?:\s+(?:edge|side))?{_OF_IMG}", _edge_middle),
    (rf"{_PREP}\s+(?:the\s+)?(?:very\s+|dead\s+|exact\s+|absolute\s+)?(?:center|centre|middle)"
     rf"(?:\s+(?:point|area|part))?{_OF_IMG}", _place(0.5, 0.5, ())),
    (rf"{_PREP}\s+the\s+(?P<extreme>very\s+|far\s+|extreme\s+)?(?P<side>top|bottom|left|right)"
     r"(?:\s+hand)?(?:\s+(?P<part>side|edge|border|end|part|half|area|portion|section|margin))?"
     rf"{_OF_IMG}(?!\s+of\b)", _side),
    (r"(?:to\s+the\s+(?:left|right)\s+of|on\s+the\s+(?:left|right)\s+of|next\s+to|beside|besides"
     r"|alongside|near|above|below|under|underneath|beneath|on\s+top\s+of|between|close\s+to"
     r"|over)\s+(?:the|a|an|my|this|that|it|him|her|them)\b.*", lambda m: Relative(m.group(0))),
    # amounts
    (rf"(?:by\s+)?{_ABOUT}{_NUM}\s*(?:pixels?|pxs?)", lambda m: Amount("pixels", _number(m))),
    (rf"(?:by\s+)?{_ABOUT}{_NUM}\s*percent(?:\s+of\s+(?:the|its)\s+(?:{_IMG}\s+)?(?:width|height"
     rf"|{_IMG}|size))?", lambda m: Amount("fraction", _number(m) / 100)),
    (rf"(?:by\s+)?{_ABOUT}{_FRACTION}(?:\s+of\s+(?:the|its)\s+(?:way|distance|width|height"
     rf"|{_IMG}(?:\s+(?:width|height))?))?", lambda m: Amount("fraction", _fraction(m))),
    (rf"by\s+(?:a\s+)?half|halfway(?:\s+across)?|half\s+(?:of\s+)?the\s+(?:way|distance|width"
     rf"|height|{_IMG}(?:\s+(?:width|height))?)", lambda m: Amount("fraction", 0.5)),
    (rf"(?:by\s+)?{_ABOUT}{_NUM}", lambda m: Amount("number", _number(m))),
    (r"(?:a\s+(?:whole\s+)?lot|lots|a\s+great\s+deal|a\s+good\s+deal|a\s+long\s+way"
     r"|quite\s+a\s+(?:bit|lot|way|distance)|significantly|considerably|substantially|greatly"
     r"|dramatically|massively|hugely|drastically|noticeably|very\s+much|much|far|way"
     r"|all\s+the\s+way|a\s+ton|tons)(?:\s+(?:more|further|farther))?",
     lambda m: Amount("vague", intensity="large")),
    (r"(?:just\s+|only\s+|ever\s+so\s+)?(?:a\s+(?:little|tiny|wee|small|teeny)\s+bit"
     r"|a\s+(?:bit|tad|touch|smidge|smidgen|smidgeon|hair|little|notch|few\s+pixels"
     r"|small\s+amount|tiny\s+amount|little\s+way|short\s+distance|small\s+distance)"
     r"|slightly|somewhat|marginally|subtly|gently|barely|lightly|minimally|faintly|modestly"
     r"|mildly)(?:\s+(?:more|further|farther))?",
     lambda m: Amount("vague", intensity="small")),
    (r"(?:upside\s+down|vertically|vertical|top\s+to\s+bottom|bottom\s+to\s+top|on\s+its\s+head"
     r"|(?:along|over|across|around)\s+the\s+(?:x|horizontal)\s*-?\s*axis)",
     lambda m: Axis("vertical")),
    (r"(?:horizontally|horizontal|sideways|side\s+to\s+side|left\s+to\s+right|right\s+to\s+left"
     r"|(?:along|over|across|around)\s+the\s+(?:y|vertical)\s*-?\s*axis|the\s+other\s+way"
     r"|(?:so\s+(?:that\s+)?(?:it|they)\s+(?:faces?|looks?|points?)|to\s+(?:face|look|point)"
     r"|facing|looking)\s+(?:the\s+)?(?:other\s+(?:way|direction|side)|opposite\s+(?:way"
     r"|direction|side)|left|right)|around|round)",
     lambda m: Axis("horizontal")),
    (r"(?P<word>bigger|larger|greater|taller|wider|huger|big|large|huge|enormous|giant|gigantic"
     r"|massive)(?:\s+in\s+size)?",
     lambda m: Comparative(1, _BIG_WORDS[m.group("word")])),  # type: ignore[arg-type]
    (r"(?P<word>smaller|tinier|littler|shorter|narrower|thinner|slimmer|small|little|tiny"
     r"|minuscule|miniature|teeny|mini)(?:\s+in\s+size)?",
     lambda m: Comparative(-1, _SMALL_WORDS[m.group("word")])),  # type: ignore[arg-type]
    (r"(?:over|more|further|farther)?\s*(?:to\s+the\s+)?(?P<dir>" + "|".join(
        sorted(_DIRECTIONS, key=len, reverse=True)) + ")",
     lambda m: Direction(*_DIRECTIONS[m.group("dir")])),
    (r"with|for", lambda m: Joiner()),
    (r"(?:over|across|more|further|farther|again|too|as\s+well|also|just|now|instead|then"
     r"|there|here|already|quickly|carefully|slowly|diagonally|in\s+size|its\s+position"
     r"|position|some\s+more|even\s+more|once\s+more|one\s+more\s+time|as\s+before"
     r"|like\s+before|by\s+the\s+same\s+amount|in\s+the\s+same\s+direction|respectively"
     r"|accordingly|a\s+bit\s+more|on\s+screen|please|thanks|very|really|extremely|super|even)",
     lambda m: Filler()),
)
_MODIFIER_PATTERNS = tuple(
    (re.compile(rf"(?:{pattern})(?=\s|$)"), build) for pattern, build in _MODIFIERS
)

_PRE_NOUN_WORDS = (
    lx.DETERMINERS | lx.ALL_QUANTIFIERS | set(lx.ORDINALS) | set(lx.SUPERLATIVES)
    | set(lx.POSITION_ADJECTIVES) | lx.SIZE_ADJECTIVES | {"very", "extreme", "last", "of", "hand"}
)


def _match_modifier(text: str, pos: int) -> tuple[Modifier, int] | None:
    for pattern, build in _MODIFIER_PATTERNS:
        match = pattern.match(text, pos)
        if match is not None:
            return build(match), match.end()
    return None


def _scan(text: str) -> list[Item]:
    """Modifiers and noun chunks of a clause (without its verb), in order."""
    items: list[Item] = []
    pos = 0
    while pos < len(text):
        if text[pos] == " ":
            pos += 1
            continue
        found = _match_modifier(text, pos)
        if found is not None:
            items.append(found[0])
            pos = found[1]
            continue
        chunk, pos = _scan_noun_chunk(text, pos)
        items.append(chunk)
    return items


def _scan_noun_chunk(text: str, pos: int) -> tuple[NounChunk, int]:
    # Modifier words before the noun ("the left cat", "the small dog") belong to the phrase.
    words: list[str] = []
    has_noun = False
    while pos < len(text):
        if text[pos] == " ":
            pos += 1
            continue
        if has_noun and _match_modifier(text, pos) is not None:
            break
        end = text.find(" ", pos)
        end = len(text) if end < 0 else end
        word = text[pos:end]
        words.append(word)
        pos = end
        if word not in _PRE_NOUN_WORDS and not word.isdigit():
            has_noun = True
    return NounChunk(tuple(words)), pos


# --- noun phrases ---------------------------------------------------------------------------


@dataclass
class _NounSpec:
    text: str
    phrase: str | None = None  # None: the noun of the previous target ("the one on the left")
    select: str | None = None
    index: int | None = None
    implicit_all: bool = False  # a bare plural; an explicit selection overrides it
    ordinal: int | None = None
    ordinal_from_end: bool = False
    pronoun: Literal["singular", "plural"] | None = None


def _analyse_noun(words: Sequence[str]) -> _NounSpec:
    text = " ".join(words)
    if text in lx.SINGULAR_PRONOUNS:
        return _NounSpec(text, pronoun="singular")
    if text in lx.PLURAL_PRONOUNS:
        return _NounSpec(text, pronoun="plural")
    words = list(words)
    if len(words) >= 2 and words[-1] == "size":
        if words[-2] in ("its", "their") and len(words) == 2:
            return _NounSpec(text, pronoun="singular" if words[-2] == "its" else "plural")
        if words[-2].endswith("'s"):
            words = [*words[:-2], words[-2][:-2]]
    spec = _NounSpec(text)
    quantified = both = one_of = False
    kept: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        last = i == len(words) - 1
        following = words[i + 1] if not last else ""
        if kept and word not in ("far", "very") and word not in lx.POSITION_ADJECTIVES:
            kept.append(word)
        elif word in lx.DETERMINERS and not last:
            pass
        elif word in lx.ALL_QUANTIFIERS and not last:
            quantified = True
            both = both or word == "both"
        elif word == "of" and not last:
            pass
        elif word == "one" and following == "of":
            one_of = True
        elif word.isdigit() and not last:
            quantified = quantified or int(word) >= 2
        elif word in lx.ORDINALS and following in ("to", "from") and i + 2 < len(words) \
                and words[i + 2] == "last":
            spec.ordinal, spec.ordinal_from_end = lx.ORDINALS[word], True
            i += 2
        elif word in lx.ORDINALS and following == "last":
            spec.ordinal, spec.ordinal_from_end = lx.ORDINALS[word], True
            i += 1
        elif word in lx.ORDINALS:
            spec.ordinal = lx.ORDINALS[word]
        elif word in ("last", "penultimate"):
            spec.ordinal, spec.ordinal_from_end = (1 if word == "last" else 2), True
        elif word in lx.SUPERLATIVES:
            spec.select = lx.SUPERLATIVES[word]
        elif word in ("far", "very", "extreme") and following in lx.SIDE_SELECT:
            spec.select = lx.SIDE_SELECT[following]
            i += 1
        elif word in lx.POSITION_ADJECTIVES and not last:
            spec.select = lx.POSITION_ADJECTIVES[word]
            if following == "hand":
                i += 1
        else:
            kept.append(word)
        i += 1
    if not kept or kept in (["one"], ["ones"]):
        return spec
    head = kept[-1]
    plural = lx.is_plural_noun(head)
    if quantified and (not both or plural):
        spec.select, spec.ordinal = "all", None
    elif plural and spec.select is None and spec.ordinal is None and not one_of:
        spec.select, spec.implicit_all = "all", True
    if plural or spec.select == "all":
        head = lx.singularise(head)
    spec.phrase = " ".join([*kept[:-1], head])
    return spec


def _resolve_ordinal(spec: _NounSpec, origin: str | None) -> None:
    if spec.ordinal is None and origin is None:
        return
    if spec.select not in (None, "all") or (spec.select == "all" and not spec.implicit_all):
        return
    nth = spec.ordinal or 1
    side = origin or ("right" if spec.ordinal_from_end else "left")
    wording = f"{spec.text} from the {origin}" if origin else spec.text
    if side == "left":
        spec.select, spec.index = "index", nth - 1
    elif nth == 1:
        spec.select, spec.index = lx.SIDE_SELECT[side], None
    else:
        raise PlannerError(
            f'cannot select "{wording}": a match is picked by its position '
            f'counted from the left, and how many there are is not known yet; say "the '
            f'{lx.SIDE_SELECT[side]} {spec.phrase or "one"}" or count from the left'
        )
    spec.implicit_all = False


# --- clauses to operations ------------------------------------------------------------------

_PLACING_KINDS = frozenset({"move", "put", "center", "bring", "send", "take", "insert"})
_OFFSET_KINDS = frozenset({"duplicate", "pan"})
_TARGETLESS_KINDS = frozenset({"pan", "zoom_out"})


@dataclass
class _Draft:
    verb: _Verb
    targets: list[Target]
    modifiers: list[Modifier]
    clause: str
    operations: list[Operation] = field(default_factory=list)

    def has_content(self) -> bool:
        return any(not isinstance(m, Filler) for m in self.modifiers)


def _unknown(fragment: str, reason: str = "") -> PlannerError:
    why = f" ({reason})" if reason else ""
    return PlannerError(
        f'could not understand "{fragment}"{why}; known verbs: {", ".join(lx.KNOWN_VERBS)} '
        "(see layeredit plan --help)"
    )


def _is_motion(modifier: Modifier) -> bool:
    if isinstance(modifier, Direction | Layer | PointRef):
        return True
    return isinstance(modifier, Place) and modifier.preposition != "at"


def _is_side_direction(place: Place) -> bool:
    """"On the left" as a destination: a direction, since a point would also fix the height."""
    return (place.preposition == "at" and not place.edge and len(place.sides) == 1
            and place.sides[0] in _HORIZONTAL)


def _place_steps(place: Place) -> list[tuple[int, int]]:
    """The directions a place stands for when it is not a point ("towards the top left")."""
    if place.preposition == "toward":
        named = {"left": (-1, 0), "right": (1, 0), "top": (0, -1), "bottom": (0, 1)}
        return [named[side] for side in place.sides]
    if _is_side_direction(place):
        return [(-1, 0) if place.sides[0] == "left" else (1, 0)]
    return []


def _place_selection(place: Place) -> str | None:
    horizontal = [side for side in place.sides if side in _HORIZONTAL]
    side = horizontal[0] if horizontal else (place.sides[0] if place.sides else None)
    return lx.SIDE_SELECT.get(side) if side else None


def _selection_of(modifier: Modifier, kind: str, clause_motion: bool,
                  first_locative: bool) -> tuple[bool, str | None]:
    """Whether a modifier picks among matches (and which way) rather than edits."""
    if isinstance(modifier, Selection):
        return True, modifier.select
    if isinstance(modifier, Direction) and modifier.side_phrase and (
            kind not in _PLACING_KINDS | _OFFSET_KINDS):
        if modifier.dx:
            return True, "leftmost" if modifier.dx < 0 else "rightmost"
        return True, "topmost" if modifier.dy < 0 else "bottommost"
    if not isinstance(modifier, Place):
        return False, None
    if kind in _PLACING_KINDS:
        if modifier.preposition != "at":
            return False, None
        selects = modifier.relative_clause or clause_motion or first_locative
        return selects, _place_selection(modifier) if selects else None
    if kind in _OFFSET_KINDS and modifier.preposition != "at":
        return False, None
    return True, _place_selection(modifier)


class RulePlanner:
    """Turns plain-English edit instructions into edit plans with a hand-written grammar."""

    def plan(self, instruction: str, image_size: tuple[int, int],
             previous: Antecedent | None = None) -> EditPlan:
        """The edit plan for ``instruction`` on an image of ``image_size`` (width, height).

        ``previous`` is what the previous turn of a chat acted on: its target ("move it left"),
        or its last operation, whose target "it" then means and whose direction a move without
        one repeats ("move it a bit more").
        Raises :class:`PlannerError` for text that cannot be planned.
        """
        if not instruction or not instruction.strip():
            raise PlannerError(
                'empty instruction: say what to change, e.g. "move the cat to the left"'
            )
        width, height = image_size
        if width <= 0 or height <= 0:
            raise PlannerError(f"image size must be positive, got {width}x{height}")
        normalised = _normalise(instruction)
        if not normalised.clauses:
            raise _unknown(instruction.strip())
        session = _Session(normalised, (width, height), previous)
        for clause in normalised.clauses:
            session.read(clause)
        try:
            operations = [op for draft in session.drafts for op in session.build(draft)]
            return EditPlan(operations=operations)
        except ValidationError as exc:
            raise PlannerError(
                f'"{instruction.strip()}" gives a plan that does not validate: '
                f"{describe_validation_error(exc)}"
            ) from None


    def target(self, phrase: str) -> Target:
        """The target a noun phrase names: "the lamp on the left" → lamp, leftmost.

        Read with the same grammar as an instruction's object, so selectors mean the same
        everywhere; text that is not one noun phrase raises :class:`PlannerError`.
        """
        operations = self.plan(f"remove {phrase}", (1, 1)).operations
        if len(operations) != 1 or not isinstance(operations[0], Remove):
            raise PlannerError(f'"{phrase}" is not one object; name one object per phrase')
        return operations[0].target


class _Session:
    """The state of reading one instruction: the drafts so far and what pronouns refer to."""

    def __init__(self, normalised: _Normalised, size: tuple[int, int],
                 previous: Antecedent | None):
        self.files = normalised.files
        self.points = normalised.points
        self.width, self.height = size
        self.previous = previous if isinstance(previous, Target) else getattr(previous, "target", None)
        # The last turn's motion, repeated by a move that gives no direction of its own.
        self.previous_motion: tuple[str, float, float] | None = None
        if isinstance(previous, (Move, Pan)) and (previous.dx or previous.dy):
            self.previous_motion = (previous.op, previous.dx, previous.dy)
        self.drafts: list[_Draft] = []

    # reading ------------------------------------------------------------------------------

    def last_targets(self) -> list[Target]:
        for draft in reversed(self.drafts):
            if draft.targets:
                return draft.targets
        return [self.previous] if self.previous is not None else []

    def read(self, clause: str) -> None:
        matched = _match_verb(clause)
        if matched is None:
            self._continue(clause)
            return
        verb, rest = matched
        if verb.kind == "unsupported":
            raise _unknown(clause, verb.reason)
        items = _scan(rest)
        targets, modifiers = self._targets_and_modifiers(items, verb.kind, clause)
        if not targets and verb.kind not in _TARGETLESS_KINDS:
            targets = self.last_targets()
            if not targets:
                raise PlannerError(
                    f'"{clause}" does not say which object to {verb.text}; name it, e.g. '
                    f'"{verb.text} the cat"'
                )
        self.drafts.append(_Draft(verb, targets, modifiers, clause))

    def _continue(self, clause: str) -> None:
        """A clause without a verb adds objects or modifiers to the previous one."""
        items = _scan(clause)
        first = items[0] if items else None
        if isinstance(first, NounChunk) and len(first.words) >= 2 and (
                first.words[0] not in _PRE_NOUN_WORDS
                and (first.words[1] in lx.DETERMINERS or first.words[1] in ("it", "them"))):
            raise _unknown(clause)
        if not self.drafts:
            raise _unknown(clause)
        draft = self.drafts[-1]
        targets, modifiers = self._targets_and_modifiers(items, draft.verb.kind, clause)
        content = [m for m in modifiers if not isinstance(m, Filler)]
        if not targets:
            draft.modifiers.extend(modifiers)
        elif not content or not draft.has_content():
            draft.targets.extend(targets)
            draft.modifiers.extend(modifiers)
        else:
            self.drafts.append(_Draft(draft.verb, targets, modifiers, clause))

    def _targets_and_modifiers(self, items: list[Item], kind: str,
                               clause: str) -> tuple[list[Target], list[Modifier]]:
        modifiers = [item for item in items if not isinstance(item, NounChunk)]
        clause_motion = any(_is_motion(m) for m in modifiers)
        locatives = [m for m in modifiers if isinstance(m, Place) and m.preposition == "at"]
        several_locatives = len(locatives) > 1
        specs: list[_NounSpec] = []
        origins: list[str | None] = []
        kept: list[Modifier] = []
        joined = False
        for item in items:
            if isinstance(item, NounChunk):
                if specs and not joined:
                    raise _unknown(" ".join(item.words), f'in "{clause}"')
                if specs and joined and kind != "swap":
                    specs[-1] = _analyse_noun([*specs[-1].text.split(), "with", *item.words])
                else:
                    specs.append(_analyse_noun(item.words))
                    origins.append(None)
                joined = False
                continue
            if isinstance(item, Joiner):
                joined = True
                continue
            if isinstance(item, OrdinalOrigin):
                if specs:
                    origins[-1] = item.side
                continue
            if isinstance(item, Relative):
                if kind in _PLACING_KINDS | _OFFSET_KINDS or not specs:
                    raise PlannerError(
                        f'could not understand "{item.text}" in "{clause}": placing an object '
                        "relative to another one is not supported; give a direction ('to the "
                        "left', '100 pixels up') or a place ('the top left corner', 'the "
                        "center', 'x=100, y=200')"
                    )
                # for other edits it only describes the object: "the cat under the table"
                specs[-1] = _analyse_noun([*specs[-1].text.split(), *item.text.split()])
                continue
            first_locative = several_locatives and locatives and item is locatives[0]
            selects, select = _selection_of(item, kind, clause_motion, bool(first_locative))
            if selects:
                if specs and select and (specs[-1].select is None or specs[-1].implicit_all):
                    specs[-1].select, specs[-1].implicit_all = select, False
                continue
            kept.append(item)
        targets: list[Target] = []
        for spec, origin in zip(specs, origins, strict=True):
            _resolve_ordinal(spec, origin)
            targets.extend(self._resolve(spec, clause, kind))
        return targets, kept

    def _resolve(self, spec: _NounSpec, clause: str, kind: str) -> list[Target]:
        if kind in _TARGETLESS_KINDS and spec.phrase is not None and (
                spec.phrase.split()[-1] in lx.CAMERA_WORDS | {"image", "picture", "photo"}):
            return []
        if spec.pronoun is not None or spec.phrase is None:
            earlier = self.last_targets()
            if not earlier:
                raise PlannerError(
                    f'"{spec.text}" in "{clause}" has nothing to refer to: name the object, '
                    'e.g. "move the cat to the left"'
                )
            if spec.pronoun == "plural":
                return list(earlier)
            if spec.pronoun == "singular":
                return [earlier[-1]]
            return [Target(phrase=earlier[-1].phrase, select=spec.select, index=spec.index)]
        return [Target(phrase=spec.phrase, select=spec.select, index=spec.index)]

    # building -----------------------------------------------------------------------------

    def build(self, draft: _Draft) -> list[Operation]:
        kind = draft.verb.kind
        mods = draft.modifiers
        sources = [m for m in mods if isinstance(m, Source)]
        if sources:
            return [self._insert(draft, target, sources[0]) for target in draft.targets]
        if kind == "make":
            kind = self._make_kind(draft)
        if kind == "take":
            if any(isinstance(m, Particle | Disappear) for m in mods):
                kind = "remove"
            elif any(_is_motion(m) or isinstance(m, Place) for m in mods):
                kind = "move"
            else:
                raise _unknown(draft.clause, "say 'take ... out' to remove an object")
        if kind == "turn":
            if not any(isinstance(m, Axis) for m in mods):
                raise _unknown(draft.clause, "rotation is not supported; 'turn upside down' "
                                             "and 'turn around' flip")
            kind = "flip"
        if kind == "insert":
            if draft.verb.text in ("paste",) and draft.targets:
                kind = "duplicate"
            else:
                raise _unknown(draft.clause, "new objects can only come from another image: "
                                             "'insert the dog from dog.png'")
        layers = [m for m in mods if isinstance(m, Layer)]
        if kind in ("bring", "send") and not layers and not any(
                isinstance(m, Direction | Place) for m in mods):
            layers = [Layer("front" if kind == "bring" else "back")]
        if layers and kind in _PLACING_KINDS:
            return [Reorder(target=t, position=layers[0].position) for t in draft.targets]
        if kind in _PLACING_KINDS and all(
                t.phrase.split()[-1] in lx.CAMERA_WORDS for t in draft.targets):
            kind = "pan"
        if kind in _PLACING_KINDS:
            return self._moves(draft)
        if kind == "pan":
            dx, dy = self._offset(draft, allow_zero=False)
            return [Pan(dx=dx, dy=dy)]
        if kind == "zoom_out":
            return [ZoomOut(scale=self._zoom_scale(draft))]
        if kind == "remove":
            return [Remove(target=t) for t in draft.targets]
        if kind == "resize":
            scale = self._resize_scale(draft, required=True)
            return [Resize(target=t, scale=scale) for t in draft.targets]
        if kind == "flip":
            axes = [m.axis for m in mods if isinstance(m, Axis)]
            return [Flip(target=t, axis=axes[-1] if axes else "horizontal")
                    for t in draft.targets]
        if kind == "duplicate":
            return self._duplicates(draft)
        if kind == "swap":
            targets = draft.targets
            if len(targets) == 1 and targets[0].select == "all":
                # "swap the two cats": the two matches, counted from the left
                phrase = targets[0].phrase
                targets = [Target(phrase=phrase, select="index", index=i) for i in (0, 1)]
            if len(targets) != 2:
                raise PlannerError(
                    f'"{draft.clause}": swap needs exactly two objects, e.g. "swap the cat and '
                    f'the dog" (got {len(targets)})'
                )
            return [Swap(target=targets[0], other=targets[1])]
        raise _unknown(draft.clause)

    def _make_kind(self, draft: _Draft) -> str:
        mods = draft.modifiers
        if any(isinstance(m, Disappear) for m in mods):
            return "remove"
        if any(isinstance(m, Comparative | Factor) for m in mods):
            return "resize"
        raise _unknown(draft.clause)

    def _points(self, draft: _Draft) -> list[Point]:
        points = [self._point(m) for m in draft.modifiers if isinstance(m, Place | PointRef)]
        return [p for p in points if p is not None]

    def _moves(self, draft: _Draft) -> list[Operation]:
        points = self._points(draft)
        if draft.verb.kind == "center" and not points:
            points = [Point(x=0.5, y=0.5)]
        if points:
            explicit = [m for m in draft.modifiers if isinstance(m, Amount) and m.kind != "vague"]
            if explicit:
                raise PlannerError(
                    f'"{draft.clause}": give either a place or a distance, not both'
                )
            return [Move(target=t, to=points[-1]) for t in draft.targets]
        dx, dy = self._offset(draft, allow_zero=False)
        return [Move(target=t, dx=dx, dy=dy) for t in draft.targets]

    def _duplicates(self, draft: _Draft) -> list[Operation]:
        if any(isinstance(m, PointRef) or (isinstance(m, Place) and m.preposition == "to")
               for m in draft.modifiers):
            raise PlannerError(
                f'"{draft.clause}": a copy can be offset by a direction ("to the right", '
                '"100 pixels up") but not placed at a point; duplicate it, then move "the copy"'
            )
        factors = [m for m in draft.modifiers if isinstance(m, Factor)]
        count = int(factors[0].value) if factors else draft.verb.count
        dx, dy = self._offset(draft, allow_zero=True)
        return [Duplicate(target=t, dx=dx, dy=dy) for t in draft.targets for _ in range(count)]

    def _insert(self, draft: _Draft, target: Target, source: Source) -> Operation:
        points = self._points(draft)
        scale = self._resize_scale(draft, required=False)
        path = self.files[int(source.path)]
        if points:
            return Insert(source=path, target=target, to=points[-1], scale=scale)
        dx, dy = self._offset(draft, allow_zero=True)
        return Insert(source=path, target=target, dx=dx, dy=dy, scale=scale)

    def _point(self, place: Place | PointRef) -> Point | None:
        if isinstance(place, Place):
            return None if _place_steps(place) else Point(x=place.x, y=place.y)
        x, y, pixels = self.points[place.index]
        if pixels:
            x, y = x / self.width, y / self.height
        if not (0 <= x <= 1 and 0 <= y <= 1):
            raise PlannerError(
                f"point ({x:g}, {y:g}) is outside the image ({self.width}x{self.height} pixels); "
                "give pixels inside the image or fractions between 0 and 1"
            )
        return Point(x=x, y=y)

    def _offset(self, draft: _Draft, allow_zero: bool) -> tuple[float, float]:
        """The (dx, dy) that the draft's directions and amounts describe."""
        kind = draft.verb.kind
        steps: list[tuple[int, int, Amount | None]] = []
        pending: list[Amount] = []
        last_amount: Amount | None = None
        for modifier in draft.modifiers:
            directions: list[tuple[int, int]] = []
            if isinstance(modifier, Direction):
                directions = [(modifier.dx, modifier.dy)]
            elif isinstance(modifier, Place):
                directions = _place_steps(modifier)
            for step_dx, step_dy in directions:
                steps.append((step_dx, step_dy, pending.pop(0) if pending else None))
            if isinstance(modifier, Amount):
                last_amount = modifier
                if steps and steps[-1][2] is None:
                    steps[-1] = (steps[-1][0], steps[-1][1], modifier)
                else:
                    pending.append(modifier)
        if not steps and draft.verb.default_dy:
            steps.append((0, draft.verb.default_dy, pending.pop(0) if pending else None))
        if not steps and self.previous_motion and self.previous_motion[0] == kind:
            return self._repeat(draft, pending[0] if pending else None)
        if pending and not steps:
            raise PlannerError(
                f'"{draft.clause}": which direction? add "left", "right", "up" or "down"'
            )
        if not steps:
            if allow_zero:
                return 0.0, 0.0
            what = "pan" if kind == "pan" else "move"
            raise PlannerError(
                f'"{draft.clause}": no direction or place to {what} to; say e.g. "to the left", '
                '"up 10%", "100 pixels right" or "to the top left corner"'
            )
        dx = dy = 0.0
        for step_dx, step_dy, amount in steps:
            amount = amount or last_amount
            if step_dx:
                dx += step_dx * self._distance(amount, self.width, draft.verb.intensity)
            if step_dy:
                dy += step_dy * self._distance(amount, self.height, draft.verb.intensity)
        if not allow_zero and not (dx or dy):
            raise PlannerError(f'"{draft.clause}": the directions cancel out')
        return _clamp(dx), _clamp(dy)

    def _repeat(self, draft: _Draft, amount: Amount | None) -> tuple[float, float]:
        """The previous motion again: the same step, or scaled so that its longer side moves by
        ``amount`` (or by what the verb implies: "nudge" is a small step)."""
        assert self.previous_motion is not None
        _, dx, dy = self.previous_motion
        if amount is None and draft.verb.intensity == "normal":
            return dx, dy
        # Scaling both fractions alike keeps the direction in pixels too.
        horizontal = abs(dx) * self.width >= abs(dy) * self.height
        longer, extent = (abs(dx), self.width) if horizontal else (abs(dy), self.height)
        scale = self._distance(amount, extent, draft.verb.intensity) / longer
        return _clamp(dx * scale), _clamp(dy * scale)

    @staticmethod
    def _distance(amount: Amount | None, extent: int, verb_intensity: Intensity) -> float:
        if amount is None:
            return {"small": MOVE_SMALL, "large": MOVE_LARGE}.get(verb_intensity, MOVE_DEFAULT)
        if amount.kind == "vague":
            return {"small": MOVE_SMALL, "large": MOVE_LARGE}.get(amount.intensity, MOVE_DEFAULT)
        if amount.kind == "pixels" or (amount.kind == "number" and amount.value > 1):
            return amount.value / extent
        return amount.value

    def _resize_scale(self, draft: _Draft, required: bool) -> float:
        mods = draft.modifiers
        sign = draft.verb.sign
        intensity: Intensity = "normal"
        for modifier in mods:
            if isinstance(modifier, Comparative):
                sign, intensity = modifier.sign, modifier.intensity
            elif isinstance(modifier, Direction) and modifier.dy and not modifier.dx:
                sign = -modifier.dy  # "scale it up"
        factors = [m for m in mods if isinstance(m, Factor)]
        if draft.verb.factor is not None:
            factors.insert(0, Factor(draft.verb.factor))
        amounts = [m for m in mods if isinstance(m, Amount)]
        if any(a.kind == "pixels" for a in amounts):
            raise PlannerError(
                f'"{draft.clause}": sizes in pixels are not supported; say "by 20%", "2x" or '
                '"twice as large"'
            )
        explicit = [a for a in amounts if a.kind != "vague"]
        if factors:
            factor = factors[-1]
            scale = factor.value
            if (sign < 0 or factor.sign < 0) and scale > 1:
                scale = 1 / scale
        elif explicit:
            value = explicit[-1].value
            if explicit[-1].kind == "number" and (value > 1 or sign == 0):
                scale = 1 / value if sign < 0 and value > 1 else value
            elif sign == 0:
                scale = value
            else:
                scale = 1 + sign * value
        else:
            for amount in amounts:
                intensity = amount.intensity
            if sign == 0:
                if not required:
                    return 1.0
                raise PlannerError(
                    f'"{draft.clause}": how much? say "bigger", "smaller", "by 50%", "2x" or '
                    '"to 80%"'
                )
            grow = {"small": GROW_SMALL, "normal": GROW_DEFAULT, "large": GROW_LARGE}
            shrink = {"small": SHRINK_SMALL, "normal": SHRINK_DEFAULT, "large": SHRINK_LARGE}
            scale = (grow if sign > 0 else shrink)[intensity]
        scale = round(scale, 6)
        if not 0 < scale <= MAX_SCALE or (required and scale == 1):
            raise PlannerError(
                f'"{draft.clause}": a scale of {scale:g} is not possible; it must be above 0, '
                f"at most {MAX_SCALE:g} and not 1"
            )
        return scale

    def _zoom_scale(self, draft: _Draft) -> float:
        mods = draft.modifiers
        factors = [m for m in mods if isinstance(m, Factor)]
        amounts = [m for m in mods if isinstance(m, Amount)]
        explicit = [a for a in amounts if a.kind != "vague"]
        if any(a.kind == "pixels" for a in amounts):
            raise PlannerError(
                f'"{draft.clause}": zooming out by pixels is not supported; say "to 80%" or '
                '"by 20%"'
            )
        if factors:
            value = factors[-1].value
            scale = 1 / value if value > 1 else value
        elif explicit:
            value = explicit[-1].value
            scale = 1 / value if explicit[-1].kind == "number" and value > 1 else 1 - value
        else:
            intensity = amounts[-1].intensity if amounts else "normal"
            scale = {"small": ZOOM_SMALL, "normal": ZOOM_DEFAULT, "large": ZOOM_LARGE}[intensity]
        scale = round(scale, 6)
        if not 0 < scale < 1:
            raise PlannerError(
                f'"{draft.clause}": zooming out needs a scale between 0 and 1 (got {scale:g}); '
                'say e.g. "zoom out to 80%" or "zoom out by 20%"'
            )
        return scale


def _clamp(value: float) -> float:
    return round(max(-MAX_OFFSET, min(MAX_OFFSET, value)), 6)
