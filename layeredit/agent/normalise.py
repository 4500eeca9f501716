"""Request normalisation for the rule planner: case, punctuation, spelled-out numbers, file
names and coordinates set aside, and the text split into clauses.

What people write around an edit is set aside, never planned: tags ("[Request]"), greetings,
politeness ("could someone please", "I'd really appreciate it if"), thanks and tips ("thx",
"will tip $5"), and constraints that the engine guarantees anyway, since everything outside the
edit is preserved ("and keep everything else the same", "but don't change the background",
"without changing her pose", "leaving the other signs untouched", "if possible"), sign-offs ("you'd
be a lifesaver", "happy to pay for this"), remarks about the picture ("it ruins the shot") and offered
options, which are not requests ("feel free to put something else there", "you can also remove the
sign if that's easier").

Keeping something that the edit itself may change ("flip the poster but keep the text as it is") is
not set aside: the request contradicts itself, and the planner asks. Keeping something beside the
edited object ("but keep the pattern behind it") is a constraint the engine meets anyway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
    (r"\b(he|she|they|there)'s\b", r"\1 is"), (r"\bthey're\b", "they are"),
    (r"\b(?:doesn't|dont)\b", "do not"), (r"\bisn't\b", "is not"), (r"\bwon't\b", "will not"),
    (r"\byou'd\b", "you would"), (r"\byou're\b", "you are"), (r"\byou'll\b", "you will"),
    (r"\bi'll\b", "i will"), (r"\bur\s+(?=a|an|the\s+best|amazing|awesome|great)\b", "you are "),
)
# Tags such as "[Request]" or "(urgent)" that open a post.
_TAGS = re.compile(r"^\s*(?:\[[^\]]*\]\s*|\((?!\s*\d)[^)]*\)\s*)+")
# "hi all, [Serious] remove ...": a tag in square brackets is set aside wherever it stands.
_BRACKETED = re.compile(r"\[[^\]]*\]")
_VERB_FILL = r"(?:change|alter|affect|touch|modify|edit|move|mess\s+with|ruin|distort|disturb|shift)"
_KEEPING = (r"(?:untouched|unchanged|intact|alone|the\s+same|as\s+(?:it\s+is|they\s+are|is)|in\s+place"
            r"|as\s+before|exactly\s+(?:the\s+same|as\s+(?:it\s+is|is))|unaffected|unedited)")
# Constraints inside a clause: cut from the marker to the end of the clause.
_CONSTRAINT_TAIL = re.compile(
    rf"\s+(?:(?:but|and|while|whilst)\s+)?(?:without\s+\w+ing\b|(?:do\s+not|never|not)\s+{_VERB_FILL}\b"
    rf"|so\s+(?:that\s+)?(?:it|they|he|she)\s+(?:is|are|does|do)\s+not\b"
    rf"|so\s+(?:that\s+)?(?:it|they|he|she)\s+(?:is|are)\s+no\s+longer\b|if\s+(?:possible|you\s+can)\b"
    r"|so\s+(?:that\s+)?(?:it|they|he|she)\s+(?:is|are|will|can|fits?|sits?|lines?\s+up|matches)\b)"
    r"[^,;]*"
)
# Whole clauses that only frame the request or state a constraint.
_ASIDE_CLAUSE = re.compile(
    r"^(?:(?:hi|hello|hey|hiya|greetings|dear|good\s+(?:morning|evening|afternoon))(?:\s+\w+)?(?:\s+\w+)?"
    r"|every\s*one|every\s*body|all|folks|guys|y\s*all|reddit|there|friends|team"
    r"|thanks?(?:\s.*)?|thank\s+(?:you|u)(?:\s.*)?|thx(?:\s.*)?|ty|tia|cheers|much\s+appreciated|lol|haha"
    r"|(?:i\s+|we\s+)?(?:would\s+|will\s+)?(?:really\s+|greatly\s+|truly\s+|so\s+)?appreciate(?:\s+(?:it|this|any\s+help))?"
    r"(?:\s+(?:so\s+much|a\s+lot|very\s+much|in\s+advance))?|(?:it|this|that|he|she|they|which)\s+(?:looks?|seems?|is|are|was|were|feels?|appears?)\b.*"
    r"|(?:any\s+help\s+)?(?:is\s+|would\s+be\s+)?(?:much\s+|greatly\s+|really\s+)?appreciated"
    r"|(?:i\s+)?(?:will|can|would)\s+(?:tip|pay)(?:\s.*)?|tip(?:ping)?\s.*|paying\s.*"
    r"|(?:\w+\s+)?(?:first\s+)?time\s+posting(?:\s.*)?|(?:i\s+)?need\s+(?:some\s+)?help(?:\s+with\s+this)?"
    r"|help(?:\s+please)?|(?:can|could)\s+(?:anyone|someone|somebody)\s+help(?:\s+me)?"
    r"|(?:and\s+|but\s+)?(?:please\s+)?(?:keep|leave|preserve)\s+(?:everything|all|the\s+rest|anything|the\s+others?"
    rf"|every\s*thing)(?:\s+else)?(?:\s+.*)?|(?:but\s+)?(?:do\s+not|never|not)\s+{_VERB_FILL}\b.*"
    r"|without\s+\w+ing\b.*|(?:if\s+)?possible|if\s+you\s+can|no\s+worries(?:\s.*)?"
    r"|(?:the\s+)?rest\s+(?:should|can|must)\s+stay.*|nothing\s+else(?:\s.*)?"
    # sign-offs: about the helper, not the picture
    r"|you\s+(?:guys\s+|all\s+)?(?:would\s+be|will\s+be|are|rock)\b.*"
    r"|(?:i\s+(?:am|would\s+be|will\s+be)\s+)?(?:happy|glad|willing)\s+to\s+(?:pay|tip|donate|send|venmo|chip\s+in)"
    r"(?:\s.*)?|(?:many|big|huge|a\s+lot\s+of|lots\s+of)\s+thanks(?:\s.*)?"
    r"|(?:i\s+)?(?:would|will)\s+be\s+(?:\w+\s+)?(?:grateful|thankful)(?:\s.*)?"
    r"|(?:(?:kind|best|warm|many)\s+)?regards(?:\s.*)?|cheers(?:\s+\w+)?|(?:much|lots\s+of)\s+love(?:\s.*)?"
    r"|god\s+bless(?:\s.*)?|bless\s+you(?:\s.*)?|love\s+you(?:\s.*)?"
    # remarks about the picture or the object: "it ruins the shot", "he photobombed us"
    r"|(?:it|he|she)\s+\w+(?:s|ed)\b.*)$"
)
# A remark about the object ("it looks odd") is set aside, but not one that says where it is ("he is
# the tall one on the left"): that selects, and unread, it must be refused.
_REMARK = re.compile(r"^(?:it|this|that|he|she|they|which)\s")
_WHERE = re.compile(
    r"\b(?:left|right|top|bottom|middle|center|centre|front|back|behind|corner|side|first|second|third"
    r"|last|biggest|smallest|largest|tallest)\b"
)
# A thank-you after the request: what follows without a verb is its signature.
_THANKS = re.compile(
    r"(?:(?:many|big|huge|kind|best|warm|much|lots\s+of)\s+)?(?:thanks|thank|thx|tia|cheers|regards|love|bless)\b"
)
# Offered options are not requests: "feel free to put something else there", "you can also remove
# the sign behind it if that's easier", "if you want, zoom out too".
_OFFER = re.compile(
    r"^(?:(?:and|but|or|also)\s+)?(?:feel\s+free\b|(?:if\s+you\s+(?:want|like|prefer|wish)(?:\s+to)?\s+)?"
    r"you\s+(?:can|could|may|might)\s+(?:also|always|even)\b|if\s+you\s+(?:want|like|prefer|wish)\b"
    r"|optionally\b|alternatively\b|or\s+(?:you\s+)?(?:can|could)\b|no\s+need\s+to\b|(?:it\s+is\s+)?up\s+to\s+you\b)"
    r"|\bif\s+you\s+(?:can|could)\s+(?:also|even)\b"
    r"|\bif\s+(?:that|it|this)\s+is\s+(?:easier|simpler|quicker|faster|better|more\s+convenient)\b"
    r"|\bif\s+(?:it\s+)?(?:helps|needed|necessary)\b"
)
_OFFER_TAIL = re.compile(
    r"\s+(?:but|and|or)\s+(?=feel\s+free\b|you\s+(?:can|could|may|might)\s+(?:also|always|even)\b).*$"
)
# "but keep the pattern behind it", "while keeping the letters the same": what is to stay as it is.
_KEEP_TAIL = re.compile(
    r"(?:^|\s+(?:but|and|while|whilst)\s+|\s+)(?:please\s+)?(?:keep|leave|preserve|keeping|leaving|preserving)"
    r"\s+(?P<kept>[^,;]*)$"
)
_KEEP_START = re.compile(
    r"^(?:but\s+|and\s+)?(?:please\s+)?(?:keep|leave|preserve|keeping|leaving|preserving)\s+"
)
# What is kept lies outside the edited object: a constraint the engine meets anyway.
_OUTSIDE = re.compile(
    r"\b(?:else|other|others|rest|everything|every\s+thing|all|anything|background|behind|around|under"
    r"|underneath|below|beneath|beside|next\s+to|near|nearby|surrounding|surroundings|sky|scene)\b"
)
# "remove my ex, he's the one on the left": the identifying clause selects among matches.
_IDENTIFYING = re.compile(
    r"\s*,\s*(?:he|she|it|they|that|this)\s+(?:is|are)\s+(?:the\s+)?(?:one|ones|guy|person|man|woman)?\s*"
    r"(?=(?:on|at|in)\s)"
)
# "adjust the size of the clock so it is larger": the result clause says how.
_SO_IT_IS = re.compile(
    r"\s+so\s+(?:that\s+)?(?:it|they|he|she)\s+(?:is|are|becomes?|gets?|looks?|will\s+be)\s+"
    r"(?=(?:a\s+(?:bit|little|lot)\s+|much\s+|slightly\s+|way\s+|even\s+)?(?:bigger|larger|smaller|taller"
    r"|shorter|tinier|the\s+same\s+size|as\s+\w+\s+as|upside\s+down|facing|closer|nearer|next\s+to|beside"
    r"|alongside|above|below|under|underneath|beneath|(?:to|on)\s+the\s+(?:left|right)\s+of|in\s+front\s+of"
    r"|behind|near|touching)\b)"
)
# "the smaller of the two vases" picks the smallest match.
_COMPARATIVE_OF = re.compile(
    r"\bthe\s+(?:(smaller|larger|bigger|taller|shorter)(?:\s+one)?\s+of\s+(?:the\s+)?(?:(?:2|both)\s+)?"
    r"|(left|right|upper|lower|higher|top|bottom)(?:\s+one)?\s+of\s+(?:the\s+)?(?:2|both)\s+)"
)
_SUPERLATIVE_OF = {"smaller": "smallest", "shorter": "smallest", "larger": "largest", "bigger": "largest",
                   "taller": "largest", "left": "leftmost", "right": "rightmost", "upper": "topmost",
                   "higher": "topmost", "top": "topmost", "lower": "bottommost", "bottom": "bottommost"}
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
    r"^(?:please|pls|plz|kindly|just|now|ok(?:ay)?|hey|hi|yo|heya|howdy|so|then|and|also|next|finally|lastly|guys|"
    r"(?:can|could|would|will)\s+(?:some|any)\s*(?:one|body)(?:\s+here)?(?:\s+(?:be\s+able|able)\s+to)?|"
    r"(?:can|could|would|will)\s+(?:you|u)(?:\s+guys|\s+all)?(?:\s+be\s+able\s+to)?|help(?:\s+me)?(?:\s+to)?|"
    r"(?:can|could|would|will)\s+(?:some|any)\s*(?:one|body)\s+help(?:\s+me)?(?:\s+to)?|(?:some|any)\s*(?:one|body)\s+"
    r"(?:please\s+)?(?:able\s+to|can|could)|is\s+it\s+possible\s+to|is\s+there\s+(?:any\s+)?way\s+to|"
    r"(?:i|we)\s+would\s+(?:really\s+|greatly\s+|truly\s+)?(?:appreciate|love)\s+(?:it\s+)?if\s+"
    r"(?:some\s*one|some\s*body|any\s*one|you|you\s+guys)\s+(?:could|can|would)|"
    r"(?:need|looking\s+for)\s+(?:some\s*one|somebody|help)\s+to|"
    r"afterwards|after\s+that|simply|maybe|perhaps|quickly|can\s+you|could\s+you|"
    r"would\s+you(?:\s+mind)?|will\s+you|would\s+it\s+be\s+possible\s+to|"
    r"i\s+(?:want|need|would\s+like|wish|would\s+love)\s+(?:you\s+)?to|"
    r"we\s+(?:want|need|would\s+like)\s+(?:you\s+)?to|let\s+us|lets|go\s+ahead\s+and|try\s+to|"
    r"help\s+me(?:\s+to)?|you\s+(?:should|can|could|need\s+to|must)|make\s+sure\s+(?:to|you)|"
    r"be\s+sure\s+to|i\s+think\s+you\s+should|it\s+would\s+be\s+(?:nice|great|good)\s+to)"
    r"(?:\s+|$)"
)
_TRAILING = re.compile(
    r"\s+(?:please|pls|plz|thanks|thank\s+(?:you|u)(?:\s+so\s+much|\s+in\s+advance)?|thanks\s+in\s+advance|thx|ty"
    r"|tia|lol|lmao|haha|asap|"
    r"for\s+me|if\s+you\s+can|if\s+possible|"
    r"if\s+you\s+could|as\s+well|too|now|ok|okay)$"
)


def _is_aside(clause: str) -> bool:
    return bool(_ASIDE_CLAUSE.match(clause)) and not (_REMARK.match(clause) and _WHERE.search(clause))


@dataclass
class Normalised:
    clauses: list[str]
    files: list[str]
    points: list[tuple[float, float, bool]]  # x, y, in pixels
    # "keep the text as it is": things to keep that the edit itself may change
    conflicts: list[str] = field(default_factory=list)


def normalise(instruction: str) -> Normalised:
    files: list[str] = []

    def keep_file(match: re.Match[str]) -> str:
        files.append(match.group(1))
        return f" __file{len(files) - 1}__ "

    text = _FILE.sub(keep_file, _BRACKETED.sub(" , ", _TAGS.sub("", instruction)))
    text = text.lower()
    for old, new in (("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"'),
                     ("\u2013", "-"), ("\u2014", " , "), ("\u00d7", "x")):
        text = text.replace(old, new)
    text = re.sub(r"(\d),(\d{3})\b", r"\1\2", text)
    text = re.sub(r"\s+-+\s+", " , ", text)  # "remove the lamp - thanks": a dash between words is a pause
    text = re.sub(r"\b(?:lol|lmao|rofl|haha+)\b", " , ", text)  # a laugh ends what came before

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
    text = re.sub(r"\bblack\s*(?:and|&|n)\s*white\b|\bb\s*&\s*w\b", "monochrome", text)
    text = _SO_IT_IS.sub(" ", text)
    text = _COMPARATIVE_OF.sub(lambda m: f"the {_SUPERLATIVE_OF[m.group(1) or m.group(2)]} ", text)
    text = re.sub(r"\.(?!\d)|[!?:]", " , ", text)
    text = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", text)
    text = re.sub(r"[^a-z0-9_.,;' -]", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = _IDENTIFYING.sub(" ", text)

    segments = (_OFFER_TAIL.sub("", segment) for segment in re.split(r"\s*[,;]\s*", text))
    text = " , ".join(segment for segment in segments if not _OFFER.search(segment))

    clauses: list[str] = []
    conflicts: list[str] = []

    def set_aside_kept(match: re.Match[str]) -> str:
        if not _OUTSIDE.search(match.group("kept")):
            conflicts.append(re.sub(r"^(?:but|and|while|whilst)\s+", "", match.group(0).strip()))
        return ""

    signed_off = False
    for raw in _CLAUSE_SPLIT.split(text):
        clause = raw.strip(" -")
        if _KEEP_START.match(clause) and not _ASIDE_CLAUSE.match(clause):
            set_aside_kept(_KEEP_TAIL.search(clause))
            continue
        if _is_aside(clause):
            signed_off = signed_off or bool(clauses and _THANKS.match(clause))
            continue
        if signed_off and match_verb(_LEADING.sub("", clause)) is None:
            continue  # after a thank-you, words without a verb sign off too: "many thanks, Ana"
        while True:
            clause = _KEEP_TAIL.sub(set_aside_kept, clause)
            stripped = _LEADING.sub("", clause)
            stripped = _TRAILING.sub("", stripped)
            stripped = _CONSTRAINT_TAIL.sub("", stripped)
            stripped = re.sub(r"\b(?:please|kindly|for me)\b", " ", stripped)
            stripped = re.sub(r"\s+", " ", stripped).strip()
            if stripped == clause:
                break
            clause = stripped
        if clause.startswith(("first ", "first of all ")):
            without = re.sub(r"^first(?:\s+of\s+all)?\s+", "", clause)
            if match_verb(without) is not None:
                clause = without
        if clause and clause not in ("first", "first of all") and not _is_aside(clause):
            clauses.append(clause)
    return Normalised(clauses, files, points, conflicts)
