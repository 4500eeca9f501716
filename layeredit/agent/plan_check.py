"""Checks a model's plan against the words of the request before anything is edited.

A language model copies phrases and invents the rest: selectors nobody asked for ("largest"), edits
nobody named, directions turned around. Every claim a plan makes must be backed by the request (or,
for a target, by the objects detected in the photo); what is not backed is a problem, and a plan
with problems becomes a question, never an edit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from layeredit.plan import Antecedent, EditPlan, Flip, Move, Operation, Pan, Resize, Target, ZoomOut, related

# Words that must appear (as a word or a word's start) for each kind of operation.
OPERATION_CUES: dict[str, tuple[str, ...]] = {
    "move": ("move", "shift", "push", "drag", "slide", "put", "place", "nudge", "bring", "reposition",
             "relocate", "lift", "lower", "raise", "closer", "next", "beside", "left", "right", "up", "down"),
    "remove": ("remov", "eras", "delet", "get rid", "take out", "take away", "eliminat", "clear", "cut out",
               "lose", "without", "gone", "disappear", "vanish", "must go", "has to go", "got to go",
               "go away", "edit out", "photoshop out", "rid"),
    "resize": ("bigger", "smaller", "large", "resiz", "scal", "enlarg", "shrink", "grow", "size", "reduc",
               "doubl", "half", "tiny", "huge", "big", "small", "tall", "short", "%"),
    "flip": ("flip", "mirror", "upside", "reverse"),
    "duplicate": ("duplicat", "copy", "copies", "clone", "another", "second one", "twice", "repeat"),
    "swap": ("swap", "switch", "exchang", "trade", "places"),
    "reorder": ("front", "back", "behind", "forward", "top", "bottom", "over", "under"),
    "pan": ("pan", "camera", "frame", "view", "scroll"),
    "zoom_out": ("zoom", "wider", "widen", "more of", "pull back"),
}  # fmt: skip

def _side_cue(side: str) -> str:
    """Words that pick the object on ``side`` (not "move it to the left", which is a direction)."""
    return (rf"\b({side}most|{side}-most|(far|furthest|most) {side}|(?<!to )the {side}|(on|at) the {side}"
            rf"|{side} (side|one|hand))\b")  # fmt: skip


# What a request must say for each selector.
SELECT_CUES: dict[str, str] = {
    "all": r"\b(all|every|each|both|them|they|those|these)\b",
    "largest": r"\b(largest|biggest|large|big|bigger|tallest|main)\b",
    "smallest": r"\b(smallest|small|smaller|little|tiny|shortest)\b",
    "leftmost": _side_cue("left"),
    "rightmost": _side_cue("right"),
    "topmost": r"\b(topmost|top|upper|highest|uppermost)\b",
    "bottommost": r"\b(bottommost|bottom|lower|lowest|lowermost)\b",
}
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
DIRECTION_CUES = {
    ("dx", -1): r"\b(left|west|leftward|leftwards)\b",
    ("dx", 1): r"\b(right|east|rightward|rightwards)\b",
    ("dy", -1): r"\b(up|upward|upwards|higher|raise|lift|top|above|north)\b",
    ("dy", 1): r"\b(down|downward|downwards|lower|bottom|below|south|drop)\b",
}
SIZE_CUES = {
    "smaller": r"\b(smaller|shrink|reduce|half|tiny|less)\b",
    "bigger": r"\b(bigger|larger|enlarge|grow|double|twice|huge)\b",
}
# A flip is a mirror left to right unless the request says upside down (the rules read it so too).
VERTICAL_FLIP_CUES = (
    r"\b(upside down|upside-down|vertical|vertically|top to bottom|bottom to top|on its head)\b"
)
HORIZONTAL_FLIP_CUES = (
    r"\b(horizontal|horizontally|sideways|side to side|left to right|right to left"
    r"|mirror\w*|fac\w*)\b"
)
REPEAT_CUES = r"\b(again|more|further|same|too|also)\b"
MAX_UNNUMBERED_SHIFT = 0.6
SCALE_BOUNDS = (0.2, 5.0)


def plan_problems(
    plan: EditPlan,
    instruction: str,
    detected: Sequence[str] = (),
    previous: Antecedent | None = None,
) -> list[str]:
    """Everything in ``plan`` that the words of ``instruction`` do not back; empty when it holds."""
    text = " ".join(re.sub(r"[^\w%'-]+", " ", instruction.lower()).split())
    words = {form for word in text.split() for form in _forms(word)}
    known = {label.lower() for label in detected}
    if previous is not None:
        earlier = previous if isinstance(previous, Target) else getattr(previous, "target", None)
        if earlier is not None:
            known.add(earlier.phrase.lower())
    has_numbers = bool(re.search(r"\d", text))
    problems: list[str] = []
    for op in plan.operations:
        if not any(_cue(cue, text) for cue in OPERATION_CUES.get(op.op, ())):
            problems.append(f"the request does not ask to {op.op.replace('_', ' ')}")
        for target in [t for t in (getattr(op, "target", None), *related(op)) if t is not None]:
            problems += _target_problems(target, text, words, known)
        if not has_numbers:
            problems += _amount_problems(op, text)
        problems += _relation_problems(op, text)
        problems += _axis_problems(op, text)
    return list(dict.fromkeys(problems))


def _target_problems(target: Target, text: str, words: set[str], known: set[str]) -> list[str]:
    phrase = target.phrase.lower()
    problems = []
    missing = [w for w in phrase.split() if not _forms(w) & words]
    if missing and phrase not in known:
        problems.append(f'"{target.phrase}" is not in the request or among the objects found')
    if target.select == "index":
        ordinal = ORDINALS[target.index] if target.index is not None and target.index < len(ORDINALS) else ""
        number = f"{(target.index or 0) + 1}"
        said = re.search(rf"\b({ordinal}|{number}(st|nd|rd|th))\b", text) if ordinal else None
        if said is None:
            problems.append(f'"{target.phrase}" number {number} from the left is not what the request says')
        elif re.search(r"\bfrom the right\b", text):
            problems.append(f'"{target.phrase}": the request counts from the right')
    elif target.select == "all" and _said_plural(phrase.split()[-1], text):
        pass
    elif target.select is not None and not re.search(SELECT_CUES[target.select], text):
        problems.append(f'the request does not say "{target.select}" for "{target.phrase}"')
    elif target.select is not None and re.search(rf"\b({'|'.join(ORDINALS[1:])}|\d+(nd|rd|th))\b", text):
        problems.append(f'the request counts to one "{target.phrase}", the plan takes the {target.select}')
    return problems


def _relation_problems(op: Operation, text: str) -> list[str]:
    """A side or a size the request takes from another object must stay tied to that object."""
    problems = []
    beside = getattr(op, "beside", None)
    named_side = re.search(r"\b(left of|right of|above|below|under|on top of)\b", text)
    if beside is not None and beside.side is None and named_side:
        said = named_side.group(1)
        problems.append(f'the request says "{said}" the {beside.anchor.phrase}, the plan drops it')
    if isinstance(op, Resize) and op.like is None and re.search(r"\bas (big|large|tall|small) as\b", text):
        problems.append(f"the request sizes the {op.target.phrase} like another object, the plan does not")
    return problems


def _axis_problems(op: Operation, text: str) -> list[str]:
    """A flip upside down must be said; a mirror left to right must not be planned for one."""
    if not isinstance(op, Flip):
        return []
    upside_down = re.search(VERTICAL_FLIP_CUES, text) is not None
    if op.axis == "vertical" and not upside_down:
        return [f"the request does not say to turn the {op.target.phrase} upside down"]
    if op.axis == "horizontal" and upside_down and not re.search(HORIZONTAL_FLIP_CUES, text):
        return [f"the request turns the {op.target.phrase} upside down, the plan mirrors it left to right"]
    return []


def _amount_problems(op: Operation, text: str) -> list[str]:
    problems = []
    if isinstance(op, Move | Pan) or op.op == "duplicate":
        for axis in ("dx", "dy"):
            value = getattr(op, axis, 0.0) or 0.0
            if value == 0.0:
                continue
            if abs(value) > MAX_UNNUMBERED_SHIFT:
                problems.append(f"a {op.op} by {value:+.2f} of the image is more than the request says")
            sign = 1 if value > 0 else -1
            if not re.search(DIRECTION_CUES[(axis, sign)], text) and not re.search(REPEAT_CUES, text):
                way = {("dx", -1): "left", ("dx", 1): "right", ("dy", -1): "up", ("dy", 1): "down"}
                problems.append(f"the request does not say to go {way[(axis, sign)]}")
    if isinstance(op, Resize | ZoomOut) and op.scale is not None:
        low, high = SCALE_BOUNDS
        if not low <= op.scale <= high:
            problems.append(f"a scale of {op.scale:g} is more than the request says")
        said, planned = ("smaller", "bigger") if op.scale > 1 else ("bigger", "smaller")
        if isinstance(op, Resize) and re.search(SIZE_CUES[said], text):
            problems.append(f"the request asks for {said}, the plan makes it {planned}")
    return problems


def _said_plural(noun: str, text: str) -> bool:
    return any(word != noun and noun in _forms(word) for word in text.split())


def _cue(cue: str, text: str) -> bool:
    if not cue[0].isalnum():
        return cue in text
    return re.search(rf"\b{re.escape(cue)}", text) is not None


def _forms(word: str) -> set[str]:
    """The word and its possible singulars, enough to match "balls" with "ball" and "boxes" with "box"."""
    forms = {word}
    if word.endswith("s") and not word.endswith("ss"):
        forms |= {word[:-1], word[:-2] if word.endswith("es") else word[:-1]}
        if word.endswith("ies"):
            forms.add(word[:-3] + "y")
    return forms
