"""The rule planner's grammar: verbs, modifiers (directions, places, amounts, sizes,
selections) and noun phrases, read from one normalised clause.

A clause is *verb + items*; :func:`scan` turns what follows the verb into modifiers and noun
chunks, :func:`analyse_noun` turns a noun chunk into a phrase and a selection.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, Union

from layeredit.agent import lexicon as lx
from layeredit.agent.errors import PlannerError

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
    """Another object named by its relation to this one ("next to the dog", "closer to the box",
    "as big as the cat"): a placement for moves and copies, a size for resizes, else a description.

    ``relation`` is a side ("left", "right", "above", "below"), "beside" (the nearer side),
    "toward", "like" (same size), or "between", "away", "than" and "onto" (not supported).
    """

    text: str
    relation: str = "beside"
    anchor: tuple[str, ...] = ()
    anchor_select: str | None = None  # "the lamp on the left" as the anchor


@dataclass(frozen=True)
class Layer:
    position: Literal["front", "back"]
    text: str = ""  # the words: "behind the sofa" also describes an object that is not reordered


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



_NUM = r"(?P<num>\d+(?:\.\d+)?|\.\d+)"
_IMG = r"(?:image|picture|photo|photograph|pic|frame|canvas|scene|screen|shot)"
_OF_IMG = rf"(?:\s+of\s+(?:the|this|my|our)\s+(?:whole\s+|entire\s+)?{_IMG})?"

# --- verbs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verb:
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
_VERBS: tuple[tuple[str, Verb], ...] = (
    (r"zoom\s+in(?:\s+on)?", Verb(kind="unsupported", reason="only zooming out is supported")),
    (rf"zoom(?:\s+(?:the\s+)?(?:camera|view|lens|{_IMG}))?\s+(?:back\s+)?out(?:\s+of\s+the\s+{_IMG})?"
     r"|(?:pull|draw)\s+(?:the\s+camera\s+)?back|zoom\s+back|dolly\s+out|uncrop|outpaint"
     rf"|widen\s+(?:the\s+)?(?:view|shot|frame|angle|field\s+of\s+view|{_IMG})"
     r"|expand\s+(?:the\s+)?(?:view|canvas|frame|borders?|field\s+of\s+view)"
     r"|show\s+more\s+of\s+(?:the\s+)?(?:scene|surroundings|background|image|picture)",
     Verb(kind="zoom_out")),
    (rf"(?:pan|tilt|scroll)(?:\s+(?:the\s+)?(?:camera|view|viewpoint|shot|{_IMG}))?",
     Verb(kind="pan")),
    (r"(?:swap|switch|exchange|interchange|trade|flip|reverse)\s+(?:the\s+)?"
     r"(?:positions?|places|locations?|spots|sides|placement)(?:\s+(?:of|between))?",
     Verb(kind="swap")),
    (r"swap|switch|exchange|interchange|trade|transpose", Verb(kind="swap")),
    (r"get\s+rid\s+of|do\s+away\s+with|take\s+(?:out|away|off)|rub\s+out|wipe\s+(?:out|away|off)"
     r"|clear\s+(?:away|out|off)|cut\s+out|edit\s+out|paint\s+out|scrub\s+out|crop\s+out"
     r"|strip\s+out|remove|erase|delete|eliminate|discard|ditch|clear|scrub|wipe|omit|exclude"
     r"|lose|hide|expunge|obliterate|purge",
     Verb(kind="remove")),
    (r"take|get|cut|photoshop|shop", Verb(kind="take")),
    (rf"(?:make|create|add|produce|generate|place|put|insert)\s+{_COUNT}{_COPY_NOUN}\s+of",
     Verb(kind="duplicate")),
    (r"(?:add|make|create|put|place|insert)\s+(?:another|one\s+more|a\s+second|an\s+extra"
     r"|an\s+additional)",
     Verb(kind="duplicate")),
    (r"copy-paste|duplicate|copy|clone|replicate", Verb(kind="duplicate")),
    (r"double\s+(?:the\s+)?size\s+of|double\s+(?:the\s+)?size", Verb(kind="resize", factor=2.0)),
    (r"triple\s+(?:the\s+)?size\s+of|triple\s+(?:the\s+)?size", Verb(kind="resize", factor=3.0)),
    (r"halve(?:\s+(?:the\s+)?size\s+of)?", Verb(kind="resize", factor=0.5)),
    (r"(?:adjust|change|alter|modify|tweak|fix|edit|correct)\s+(?:the\s+)?(?:size|scale|dimensions)"
     r"(?:\s+of)?|(?:match|equali[sz]e)\s+(?:the\s+)?(?:size|height)\s+of",
     Verb(kind="resize")),
    (r"(?:increase|enlarge|boost|grow|expand|raise)\s+(?:the\s+)?size\s+of"
     r"|scale\s+up|size\s+up|blow\s+up|enlarge|grow|expand|magnify|upscale|upsize|supersize"
     r"|embiggen|amplify|inflate|zoom\s+into",
     Verb(kind="resize", sign=1)),
    (r"(?:reduce|decrease|lower|shrink|lessen|cut|diminish)\s+(?:the\s+)?size\s+of"
     r"|scale\s+down|size\s+down|scale\s+back|shrink|reduce|diminish|downsize|downscale"
     r"|minimi[sz]e|compress|deflate|contract",
     Verb(kind="resize", sign=-1)),
    (r"resize|rescale|scale|size", Verb(kind="resize")),
    (r"make", Verb(kind="make")),
    (r"flip\s+over|flip|mirror|reflect|invert", Verb(kind="flip")),
    (r"turn(?:\s+over)?", Verb(kind="turn")),
    (r"bring(?:\s+in)?", Verb(kind="bring")),
    (r"send", Verb(kind="send")),
    (r"nudge|budge|inch|bump|jiggle", Verb(kind="move", intensity="small")),
    (r"raise|lift|elevate|hoist", Verb(kind="move", default_dy=-1)),
    (r"lower", Verb(kind="move", default_dy=1)),
    (r"move|shift|drag|slide|push|pull|relocate|reposition|translate|carry|scoot|displace"
     r"|transfer|shove|offset",
     Verb(kind="move")),
    (r"put|place|position|set|plant|park|stick|locate|situate", Verb(kind="put")),
    (r"(?:re)?cent(?:er|re)", Verb(kind="center")),
    (r"insert|paste|import|add|include|incorporate|composite|splice", Verb(kind="insert")),
    (r"rotate|spin|twist|tilt", Verb(kind="unsupported", reason="rotation is not supported")),
    (r"recolou?r|colou?r|paint|repaint|tint|dye|brighten|darken|lighten|blur|sharpen|saturate"
     r"|desaturate", Verb(kind="unsupported", reason="colour and tone edits are not supported")),
    (r"stretch|squash|squeeze|warp|distort|bend|skew",
     Verb(kind="unsupported", reason="only uniform resizing is supported")),
    (r"crop", Verb(kind="unsupported", reason="cropping is not supported; try 'zoom out'")),
    (r"replace|change|swap\s+out|transform|convert|turn\s+into",
     Verb(kind="unsupported", reason="replacing one object by another is not supported")),
)
_VERB_PATTERNS = tuple(
    (re.compile(rf"(?:{pattern})(?=\s|$)"), spec) for pattern, spec in _VERBS
)


def match_verb(clause: str) -> tuple[Verb, str] | None:
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
HORIZONTAL = {"left": 0.0, "right": 1.0}


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
    return _place(HORIZONTAL[horizontal], _VERTICAL[vertical], sides, True)(match)


def _edge_middle(match: re.Match[str]) -> Modifier:
    side = match.group("side")
    if side in HORIZONTAL:
        return _place(HORIZONTAL[side], 0.5, (side,), True)(match)
    sides = ("top",) if _VERTICAL[side] == 0 else ("bottom",)
    return _place(0.5, _VERTICAL[side], sides, True)(match)


def _side(match: re.Match[str]) -> Modifier:
    side = match.group("side")
    preposition, relative = _preposition(match.group("prep"))
    edge = bool(match.group("extreme")) or match.group("part") in (
        "edge", "border", "margin", "end")
    if preposition == "toward" or (side in HORIZONTAL and preposition == "to" and not edge):
        dx, dy = _DIRECTIONS[side if side in HORIZONTAL else ("up" if side == "top" else "down")]
        return Direction(dx, dy, side_phrase=True)
    if side in HORIZONTAL:
        return Place(HORIZONTAL[side], 0.5, preposition, (side,), edge, relative)
    return Place(0.5, _VERTICAL[side], preposition, (side,), edge, relative)


def _relative(match: re.Match[str]) -> Modifier:
    groups = match.groupdict()
    relation = next(
        (name for name in ("above", "below", "between", "toward", "like", "away", "than") if groups[name]),
        groups["side"] or groups["bare"] or "beside",
    )
    return Relative(match.group(0), relation, tuple(match.group("anchor").split()))


def _onto(match: re.Match[str]) -> Modifier:
    return Relative(match.group(0), "onto", tuple(match.group("anchor").split()))


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
     lambda m: Layer("front", m.group(0))),
    (r"(?:(?:to|into|in)\s+(?:the\s+)?(?:very\s+)?(?:back|background|rear|backdrop)(?:\s+layer"
     r"|\s+of\s+(?:everything|all|the\s+stack|the\s+others|the\s+other\s+\w+))?"
     r"|to\s+the\s+bottom\s+(?:layer|of\s+the\s+stack)|behind(?:\s.*)?|backwards?"
     r"|(?:one\s+)?layer\s+down|(?:beneath|underneath|below)\s+everything(?:\s+else)?|back)",
     lambda m: Layer("back", m.group(0))),
    (rf"(?:counting\s+|starting\s+|going\s+)?from\s+the\s+(?P<side>left|right|top|bottom)"
     rf"(?:\s+(?:side|end|edge))?{_OF_IMG}",
     lambda m: OrdinalOrigin(m.group("side"))),
    (r"(?:(?:that|which|who)\s+(?:is|are)\s+)?(?:the\s+)?(?:furthest|farthest|most|closest)\s+"
     r"(?:to\s+the\s+)?(?P<side>left|right|top|bottom|up|down)",
     lambda m: Selection({"up": "topmost", "down": "bottommost"}.get(
         m.group("side"), lx.SIDE_SELECT.get(m.group("side"), "")))),
    (rf"out(?:\s+of\s+(?:the|this|my)\s+(?:{_IMG}|way))?|away(?!\s+from)|off", lambda m: Particle()),
    (rf"(?:from|in|on|of|off|out\s+of|within|inside|across|throughout|into|onto|to)\s+(?:the|this|my|our)\s+"
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
    (rf"(?:by\s+|to\s+)?(?:a\s+factor\s+of\s+)?{_ABOUT}{_NUM}\s*(?:times|fold)(?:\s+(?:as\s+(?:big"
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
     rf"(?:\s+(?:point|area|part))?{_OF_IMG}(?!\s+of\b)", _place(0.5, 0.5, ())),
    (rf"{_PREP}\s+the\s+(?P<extreme>very\s+|far\s+|extreme\s+)?(?P<side>top|bottom|left|right)"
     r"(?:\s+hand)?(?:\s+(?P<part>side|edge|border|end|part|half|area|portion|section|margin))?"
     rf"{_OF_IMG}(?!(?:\s+(?:hand|side|part|edge|end))*\s+of\b)", _side),
    (r"(?:(?:right|just|directly|immediately|somewhere)\s+)?"
     r"(?P<rel>(?:to|on|at)\s+the\s+(?P<side>left|right)(?:\s+hand)?(?:\s+side)?\s+of|(?P<bare>left|right)\s+of"
     r"|next\s+to|beside|besides|alongside|by\s+the\s+side\s+of|near(?:\s+to)?|close\s+(?:up\s+)?to"
     r"|(?P<above>above|over)|(?P<below>below|under|underneath|beneath)|on\s+top\s+of|(?P<between>between)"
     r"|(?P<toward>(?:a\s+(?:bit|little)\s+|much\s+)?(?:closer|nearer)(?:\s+to)?|towards?|in\s+the\s+direction\s+of"
     r"|(?:halfway|half\s+way|part\s+of\s+the\s+way|most\s+of\s+the\s+way)\s+(?:to|towards?))"
     r"|(?P<away>(?:further\s+|farther\s+)?away\s+from|further\s+from|farther\s+from)"
     r"|(?P<than>(?:bigger|larger|taller|smaller|shorter|tinier|wider|narrower)\s+than)"
     r"|(?:over\s+|up\s+|across\s+)?to(?!\s+the\s+(?:size|height|left|right|top|bottom|center|centre|middle"
     r"|edge|corner|end|side|front|back|foreground|background|rear)\b)"
     r"|(?P<like>(?:to\s+)?(?:the\s+)?same\s+(?:size|height)\s+as|(?:to\s+)?the\s+(?:size|height)\s+of"
     r"|as\s+(?:big|large|tall|small|high|wide"
     r"|huge|tiny|little|short)\s+as))"
     r"\s+(?P<anchor>(?:the|a|an|my|this|that|it|him|her|them|his|its|their|our|your)\b.*)", _relative),
    (r"(?:(?:in|on|at|to|into|onto)\s+the\s+(?:center|centre|middle|top|edge|corner|end|side)\s+of"
     r"|on|onto|in|inside|into|on\s+to|in\s+to)"
     r"\s+(?P<anchor>(?:the|a|an|my|this|that|his|her|their|our|your)\s(?!.*__file).*)", _onto),
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

PRE_NOUN_WORDS = (
    lx.DETERMINERS | lx.ALL_QUANTIFIERS | set(lx.ORDINALS) | set(lx.SUPERLATIVES)
    | set(lx.POSITION_ADJECTIVES) | lx.SIZE_ADJECTIVES | {"very", "extreme", "last", "of", "hand"}
)


def _match_modifier(text: str, pos: int) -> tuple[Modifier, int] | None:
    for pattern, build in _MODIFIER_PATTERNS:
        match = pattern.match(text, pos)
        if match is not None:
            return build(match), match.end()
    return None


def scan(text: str) -> list[Item]:
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
        if word not in PRE_NOUN_WORDS and not word.isdigit():
            has_noun = True
    return NounChunk(tuple(words)), pos


# --- noun phrases ---------------------------------------------------------------------------


@dataclass
class NounSpec:
    text: str
    phrase: str | None = None  # None: the noun of the previous target ("the one on the left")
    select: str | None = None
    index: int | None = None
    implicit_all: bool = False  # a bare plural; an explicit selection overrides it
    ordinal: int | None = None
    ordinal_from_end: bool = False
    pronoun: Literal["singular", "plural"] | None = None
    description: str | None = None  # the object with its description, for detection
    # "the big one": adjectives for the noun of the previous target
    anaphor_adjectives: tuple[str, ...] = ()


def analyse_noun(words: Sequence[str]) -> NounSpec:
    text = " ".join(words)
    if text in lx.SINGULAR_PRONOUNS:
        return NounSpec(text, pronoun="singular")
    if text in lx.PLURAL_PRONOUNS:
        return NounSpec(text, pronoun="plural")
    words = list(words)
    if len(words) >= 2 and words[-1] == "size":
        if words[-2] in ("its", "their") and len(words) == 2:
            return NounSpec(text, pronoun="singular" if words[-2] == "its" else "plural")
        if words[-2].endswith("'s"):
            words = [*words[:-2], words[-2][:-2]]
    spec = NounSpec(text)
    quantified = both = one_of = False
    kept: list[str] = []
    described: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        last = i == len(words) - 1
        following = words[i + 1] if not last else ""
        ends_description = not last or word in lx.POSTMODIFIERS
        if kept and ends_description and lx.starts_description(word, following, kept[-1]):
            described = [*kept, *words[i:]] if not last else []
            break
        if kept and last and word in lx.ORDINALS and spec.ordinal is None:
            # "the chair second (from the left)"; "remove the chair first" says when, and the
            # plan keeps the order written anyway
            spec.ordinal = lx.ORDINALS[word] if lx.ORDINALS[word] > 1 else None
        elif kept and word not in ("far", "very") and word not in lx.POSITION_ADJECTIVES:
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
    if len(kept) >= 2 and lx.is_participle(kept[-1]):
        described = described or list(kept)
        kept = kept[:-1]  # a participle after the noun: "the car parked (on the left)"
    if kept in (["everyone"], ["everybody"]):
        kept, quantified = ["people"], True
    possessors = [j for j, word in enumerate(kept[:-1]) if word.endswith("'s") or word.endswith("s'")]
    if possessors:  # "the dog's leash" names the leash
        described = described or list(kept)
        kept = kept[possessors[-1] + 1 :]
    if not kept or kept in (["one"], ["ones"]):
        return spec
    if kept[-1] in lx.ANAPHORIC_NOUNS and all(word in lx.SIZE_ADJECTIVES or word.isalpha() for word in kept):
        spec.anaphor_adjectives = tuple(kept[:-1])
        if kept[-1] == "ones" and spec.select is None:
            spec.select, spec.implicit_all = "all", True
        return spec
    head = kept[-1]
    plural = lx.is_plural_noun(head)
    if quantified and spec.select is None and (not both or plural):
        spec.select, spec.ordinal = "all", None
    elif plural and spec.select is None and spec.ordinal is None and not one_of:
        spec.select, spec.implicit_all = "all", True
    if plural or spec.select == "all":
        head = lx.singularise(head)
    spec.phrase = " ".join([*kept[:-1], head])
    if described:
        spec.description = " ".join(described)
    return spec


def resolve_ordinal(spec: NounSpec, origin: str | None) -> None:
    if spec.ordinal is None and origin is None:
        return
    if spec.select not in (None, "all") or (spec.select == "all" and not spec.implicit_all):
        return
    if spec.ordinal is None and origin is not None:  # "the car from the left side of the frame"
        spec.select, spec.implicit_all = lx.SIDE_SELECT[origin], False
        return
    nth = spec.ordinal or 1
    side = origin or ("right" if spec.ordinal_from_end else "left")
    wording = f"{spec.text} from the {origin}" if origin else spec.text
    if side == "left":
        spec.select, spec.index = "index", nth - 1
    elif nth == 1:
        spec.select, spec.index = lx.SIDE_SELECT[side], None
    elif side == "right":  # "the second car from the right", "the penultimate car"
        spec.select, spec.index = "index", -nth
    else:
        raise PlannerError(
            f'cannot select "{wording}": matches are counted from the left or from the right, not '
            f'from the {side}; say "the {lx.SIDE_SELECT[side]} {spec.phrase or "one"}" or count across'
        )
    spec.implicit_all = False
