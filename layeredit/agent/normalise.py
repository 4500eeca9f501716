"""Request normalisation for the rule planner: case, punctuation, spelled-out numbers, file
names and coordinates set aside, polite wrappers stripped, and the text split into clauses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from layeredit.agent import lexicon as lx
from layeredit.agent.grammar import match_verb

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
class Normalised:
    clauses: list[str]
    files: list[str]
    points: list[tuple[float, float, bool]]  # x, y, in pixels


def normalise(instruction: str) -> Normalised:
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
            if match_verb(without) is not None:
                clause = without
        if clause and clause not in ("first", "first of all", "thanks", "thank you"):
            clauses.append(clause)
    return Normalised(clauses, files, points)
