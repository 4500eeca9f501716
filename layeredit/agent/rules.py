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
rightmost. "Behind"/"in front of" become a reorder.

Descriptions after the noun ("the man in the red jacket", "the woman holding the balloons") and
possessors ("the dog's leash") are dropped from the phrase: the head noun with its adjectives
names the object; selectors among them ("on the far right") still select.

Relative placement: "next to the bowl" -> ``beside`` the bowl (the nearer side), "to the left of",
"above", "below"/"under" -> that side; "closer to the box" -> ``toward`` (half the gap, "a bit
closer" a quarter, "much closer" three quarters); "as big as the cat" / "the same size as" ->
a resize ``like`` the cat. For other edits such a phrase only describes the object.

Out-of-scope requests (recolour, restyle, retouch, rotate, crop, expressions, replacing or adding
objects) raise :class:`~layeredit.agent.errors.UnsupportedEditError` naming the clause; a request
mixing them with supported edits is refused whole (the error carries the supported part).

The rules never guess. A plan is returned only when every word of the request is either read by
the grammar or set aside by the normaliser as framing (greetings, politeness, thanks and sign-offs,
remarks, offered options, constraints on things beside the object). Words left over raise
:class:`~layeredit.agent.errors.UnaccountedWords` naming them; object names are open words, but a
subject, modal, conjunction or thank-you inside one means a clause was swallowed. Keeping part of
what the edit changes ("flip the poster but keep the text as it is"), a where-word that may belong to
either of two objects ("the cup next to the plate on the left") and an object placed against its own
kind ("the dog to the right of the dog") raise :class:`PlannerError` asking which is meant.

Pronouns ("it", "them", "that", "the copy", "the one on the left") refer to the previous target
in the instruction, or to ``previous`` (the last turn's target) in a chat.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from pydantic import ValidationError

from layeredit.agent import lexicon as lx
from layeredit.agent.errors import PlannerError, UnaccountedWords, UnsupportedEditError
from layeredit.agent.grammar import (
    HORIZONTAL,
    PRE_NOUN_WORDS,
    Amount,
    Axis,
    Comparative,
    Direction,
    Disappear,
    Factor,
    Filler,
    Intensity,
    Item,
    Joiner,
    Layer,
    Modifier,
    NounChunk,
    NounSpec,
    OrdinalOrigin,
    Particle,
    Place,
    PointRef,
    Relative,
    Selection,
    Source,
    Verb,
    analyse_noun,
    match_verb,
    resolve_ordinal,
    scan,
)
from layeredit.agent.normalise import Normalised, normalise
from layeredit.agent.scope import appearance_refusal, refusal, unsupported_reason
from layeredit.errors import clip
from layeredit.plan import (
    Antecedent,
    Beside,
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
    Side,
    Swap,
    Target,
    ZoomOut,
    describe_validation_error,
)

MOVE_DEFAULT, MOVE_SMALL, MOVE_LARGE = 0.2, 0.1, 0.35
GROW_DEFAULT, GROW_SMALL, GROW_LARGE = 1.3, 1.15, 1.6
SHRINK_DEFAULT, SHRINK_SMALL, SHRINK_LARGE = 0.75, 0.87, 0.5
ZOOM_DEFAULT, ZOOM_SMALL, ZOOM_LARGE = 0.8, 0.9, 0.6
TOWARD_SMALL, TOWARD_LARGE = 0.25, 0.75  # "a bit closer", "much closer"; plain "closer" is the plan's default
MAX_OFFSET = 0.99  # the plan requires |dx|, |dy| < 1
MAX_SCALE = 10.0

# --- clauses to operations ------------------------------------------------------------------

_BESIDE_SIDES: dict[str, Side | None] = {
    "left": "left", "right": "right", "above": "above", "below": "below", "beside": None,
}
# "put a copy of the cat on the table" places the copy; "copy the cat on the table" names the cat.
_PLACING_VERB = re.compile(r"(?:put|place|add|insert|paste|set|position|make)\b")
_UNSUPPORTED_RELATIONS = {
    "between": "placing an object between two others is not supported; place it beside one of them",
    "away": "moving an object away from another is not supported; give a direction ('to the left')",
    "than": "sizes relative to another object are not supported except 'as big as'; say 'smaller', "
            "'2x' or 'as big as the plate'",
    "onto": "placing an object on or inside another is not supported; place it beside, above, below "
            "or closer to it",
}
_WHOLE_PICTURE = frozenset({"image", "picture", "photo", "photograph", "pic", "shot"})
_SIDE_STEPS = {"left": (-1, 0), "right": (1, 0), "above": (0, -1), "below": (0, 1)}
_PLACING_KINDS = frozenset({"move", "put", "center", "bring", "send", "take", "insert"})
_OFFSET_KINDS = frozenset({"duplicate", "pan"})
_TARGETLESS_KINDS = frozenset({"pan", "zoom_out"})


@dataclass
class _Draft:
    verb: Verb
    targets: list[Target]
    modifiers: list[Modifier]
    clause: str
    operations: list[Operation] = field(default_factory=list)
    anchors: list[Target] = field(default_factory=list)  # objects placed against, once resolved

    def has_content(self) -> bool:
        return any(not isinstance(m, Filler) for m in self.modifiers)


def _unknown(fragment: str, reason: str = "") -> PlannerError:
    why = f" ({reason})" if reason else ""
    return PlannerError(
        f'could not understand "{fragment}"{why}; known verbs: {", ".join(lx.KNOWN_VERBS)} '
        "(see layeredit plan --help)"
    )


def _unaccounted(words: list[str] | tuple[str, ...], clause: str | None = None) -> UnaccountedWords:
    """The parse left ``words`` over: the request is refused (or asked about), never guessed at."""
    fragment = " ".join(words)
    where = f' in "{clause}"' if clause and clause != fragment else ""
    return UnaccountedWords(
        tuple(words),
        f'could not understand "{fragment}"{where}; known verbs: {", ".join(lx.KNOWN_VERBS)} '
        "(see layeredit plan --help)",
    )


def _check_object_words(words: Sequence[str], clause: str) -> None:
    """An object's name and description are open words, but never a clause of their own: a subject,
    a modal, a conjunction or a thank-you inside one means the parse swallowed what it did not
    understand ("the poster but keep the text", "you'd be a lifesaver"); so do words before a
    determiner that no preposition or participle joins ("move zorp the dog")."""
    for i, word in enumerate(words):
        if word.replace("'", "") in lx.NOT_IN_OBJECT_NAMES or "'" in word and not word.endswith(
                ("'s", "s'")) or not re.search(r"[a-z0-9]", word):
            raise _unaccounted(words[i:], clause)
        if i and word in lx.DETERMINERS and not lx.joins_noun_phrase(words[i - 1]):
            loose = [w for w in words[:i] if w not in PRE_NOUN_WORDS]
            if loose:
                raise _unaccounted(loose, clause)


def _continues_description(spec: NounSpec) -> bool:
    """Whether a noun phrase ends mid-description ("the dog sitting", "the line running across")."""
    last = spec.text.split()[-1]
    return last in lx.POSTMODIFIERS or lx.is_participle(last)


def _split_anchors(items: list[Item]) -> list[Item]:
    """A relation's anchor is the first noun phrase after it; what follows is read as usual
    ("next to the bowl on the left", "on the sign bigger")."""
    split: list[Item] = []
    for item in items:
        if not isinstance(item, Relative):
            split.append(item)
            continue
        rest = scan(" ".join(item.anchor))
        if not rest or not isinstance(rest[0], NounChunk):
            split.append(item)
            continue
        anchor, rest = rest[0].words, rest[1:]
        while rest and isinstance(rest[0], Relative):  # "the dog in the hat": describes the anchor
            anchor, rest = (*anchor, *rest[0].text.split()), rest[1:]
        select = None
        if rest and isinstance(rest[0], Selection):
            select, rest = rest[0].select, rest[1:]
        elif rest and isinstance(rest[0], Place) and rest[0].preposition == "at" and not rest[1:]:
            select, rest = _place_selection(rest[0]), rest[1:]
        relation_words = item.text[: len(item.text) - len(" ".join(item.anchor))]
        text = relation_words + " ".join(anchor)
        split.append(replace(item, anchor=anchor, text=text, anchor_select=select))
        split.extend(_split_anchors(rest))
    return split


def _names_the_same_one(chunk: NounChunk) -> bool:
    """Whether a noun phrase is "the one ..." (the object named before, told apart)."""
    return chunk.words[:1] == ("one",) or (
        len(chunk.words) >= 2 and chunk.words[0] in ("the", "that", "this") and chunk.words[1] == "one")


def _before_a_verb(clause: str) -> list[str]:
    """The words of a clause that does not start with a verb, up to the first one that could start
    an edit ("zorp move the cat left" names "zorp"); all of them when none could."""
    words = clause.split()
    for i in range(1, len(words)):
        if match_verb(" ".join(words[i:])) is not None:
            return words[:i]
    return words


def _after_layer(text: str) -> tuple[str, ...]:
    """The object in "behind the fence" / "in front of the car"."""
    return tuple(re.sub(r"^(?:behind|in\s+front\s+of|on\s+top\s+of)\s*", "", text).split())


def _described(spec: NounSpec, relation: Relative, clause: str) -> NounSpec:
    """The object with a relation that only describes it ("the man in the grey coat on the right").

    A where-word after the relation's object still selects: among matches of the described object
    when the relation is an attribute ("in the coat", "on the shelf"), since the two are in one place;
    when the relation is a side of another object, which of the two it picks is unclear, so it is asked.
    An object placed against one of its own kind ("the dog to the right of the dog") is asked too.
    """
    anchor = analyse_noun(relation.anchor)
    head = spec.phrase.split()[-1] if spec.phrase else None
    if head is not None and anchor.phrase is not None and anchor.phrase.split()[-1] == head and (
            relation.relation not in ("onto", "like", "than")):
        raise PlannerError(
            f'"{spec.text} {relation.text}" in "{clause}": which {head} is meant is unclear; say e.g. '
            f'"the leftmost {head}", "the rightmost {head}" or "the second {head} from the left"'
        )
    described = analyse_noun([*spec.text.split(), *relation.text.split()])
    if relation.anchor_select is not None:
        if relation.relation != "onto":
            raise PlannerError(
                f'"{relation.text}" in "{clause}": does the place name the {head} or the '
                f'{anchor.phrase}? say e.g. "the {relation.anchor_select} {head}"'
            )
        if described.select is None or described.implicit_all:
            described.select, described.implicit_all = relation.anchor_select, False
    return described


def _is_motion(modifier: Modifier) -> bool:
    if isinstance(modifier, Direction | Layer | PointRef):
        return True
    return isinstance(modifier, Place) and modifier.preposition != "at"


def _is_side_direction(place: Place) -> bool:
    """"On the left" as a destination: a direction, since a point would also fix the height."""
    return (place.preposition == "at" and not place.edge and len(place.sides) == 1
            and place.sides[0] in HORIZONTAL)


def _place_steps(place: Place) -> list[tuple[int, int]]:
    """The directions a place stands for when it is not a point ("towards the top left")."""
    if place.preposition == "toward":
        named = {"left": (-1, 0), "right": (1, 0), "top": (0, -1), "bottom": (0, 1)}
        return [named[side] for side in place.sides]
    if _is_side_direction(place):
        return [(-1, 0) if place.sides[0] == "left" else (1, 0)]
    return []


def _place_selection(place: Place) -> str | None:
    horizontal = [side for side in place.sides if side in HORIZONTAL]
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
        normalised = normalise(instruction)
        if not normalised.clauses:
            raise _unaccounted(instruction.strip().split())
        if normalised.conflicts:
            kept = normalised.conflicts[0]
            raise PlannerError(
                f'"{kept}" contradicts the edit: what is edited changes with everything on it; say the '
                "edit alone, or name something beside the object to keep (\"keep the wall behind it\")"
            )
        try:
            return self._plan(normalised, image_size, previous)
        except ValidationError as exc:  # e.g. an object named in more words than a plan takes
            raise PlannerError(
                f'"{clip(instruction.strip())}" gives a plan that does not validate: '
                f"{describe_validation_error(exc)}"
            ) from None

    def _plan(
        self, normalised: Normalised, image_size: tuple[int, int], previous: Antecedent | None
    ) -> EditPlan:
        session = _Session(normalised, image_size, previous)
        for clause in normalised.clauses:
            try:
                session.read(clause)
            except UnsupportedEditError as exc:
                supported = self._supported_part(normalised.clauses, clause, image_size, previous)
                if supported is None:
                    raise
                raise exc.offering(supported) from None
        return EditPlan(operations=[op for draft in session.drafts for op in session.build(draft)])


    def _supported_part(self, clauses: list[str], unsupported: str, image_size: tuple[int, int],
                        previous: Antecedent | None) -> str | None:
        """The request without its unsupported clause, if that can be planned on its own."""
        rest = [clause for clause in clauses if clause != unsupported]
        if not rest:
            return None
        try:
            self.plan(", ".join(rest), image_size, previous)
        except PlannerError:
            return None
        return " and ".join(rest)

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

    def __init__(self, normalised: Normalised, size: tuple[int, int],
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
        reason = unsupported_reason(clause)
        if reason is not None:
            raise refusal(clause, reason)
        matched = match_verb(clause)
        if matched is None:
            self._continue(clause)
            return
        verb, rest = matched
        if verb.kind == "unsupported":
            raise refusal(clause, verb.reason)
        items = scan(rest)
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
        items = scan(clause)
        first = items[0] if items else None
        if isinstance(first, NounChunk) and len(first.words) >= 2 and (
                first.words[0] not in PRE_NOUN_WORDS
                and (first.words[1] in lx.DETERMINERS or first.words[1] in ("it", "them"))):
            raise _unaccounted(_before_a_verb(clause))
        if not self.drafts:
            raise _unaccounted(_before_a_verb(clause))
        draft = self.drafts[-1]
        targets, modifiers = self._targets_and_modifiers(items, draft.verb.kind, clause)
        content = [m for m in modifiers if not isinstance(m, Filler)]
        if isinstance(first, NounChunk) and _names_the_same_one(first) and draft.targets:
            # "remove the bike, the one on the left" tells the bike apart; "remove the cup and the
            # one on the right" adds another: the words alone do not say which
            phrase = draft.targets[-1].phrase
            raise PlannerError(
                f'"{clause}" after "{draft.clause}": the same {phrase} or another one? say e.g. '
                f'"{draft.verb.text} the {phrase} on the left" or "{draft.verb.text} both {phrase}s"'
            )
        if not targets:
            draft.modifiers.extend(modifiers)
        elif not content or not draft.has_content():
            draft.targets.extend(targets)
            draft.modifiers.extend(modifiers)
        else:
            self.drafts.append(_Draft(draft.verb, targets, modifiers, clause))

    def _targets_and_modifiers(self, items: list[Item], kind: str,
                               clause: str) -> tuple[list[Target], list[Modifier]]:
        items = _split_anchors(items)
        modifiers = [item for item in items if not isinstance(item, NounChunk)]
        clause_motion = any(_is_motion(m) for m in modifiers)
        locatives = [m for m in modifiers if isinstance(m, Place) and m.preposition == "at"]
        several_locatives = len(locatives) > 1
        specs: list[NounSpec] = []
        origins: list[str | None] = []
        kept: list[Modifier] = []
        joined = False
        for item in items:
            if isinstance(item, NounChunk):
                _check_object_words(item.words, clause)
                if specs and not joined and _continues_description(specs[-1]):
                    # the description goes on: "the line running across the top of the image"
                    specs[-1] = analyse_noun([*specs[-1].text.split(), *item.words])
                    continue
                if specs and not joined:
                    raise _unaccounted(item.words, clause)
                if specs and joined and kind != "swap":
                    specs[-1] = analyse_noun([*specs[-1].text.split(), "with", *item.words])
                else:
                    specs.append(analyse_noun(item.words))
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
                describes = not specs or _continues_description(specs[-1]) or (
                    kind in _PLACING_KINDS | {"duplicate"} and clause_motion)
                places = kind in _PLACING_KINDS or (kind == "duplicate" and _PLACING_VERB.match(clause))
                sizes = kind in ("resize", "make")
                if not describes and ((item.relation in ("between", "away", "onto") and places) or (
                        item.relation == "than" and sizes)):
                    raise refusal(clause, _UNSUPPORTED_RELATIONS[item.relation])
                if not describes and item.relation not in _UNSUPPORTED_RELATIONS and (
                        kind in _PLACING_KINDS | {"duplicate"} or (
                        item.relation == "like" and sizes)):
                    kept.append(item)
                    continue
                if kind in _TARGETLESS_KINDS or not specs:
                    raise PlannerError(
                        f'could not understand "{item.text}" in "{clause}": only objects can be '
                        "placed relative to another one ('move the cup next to the bowl')"
                    )
                # for other edits it only describes the object: "the cat under the table"
                specs[-1] = _described(specs[-1], item, clause)
                continue
            if isinstance(item, Layer) and kind not in _PLACING_KINDS and specs and (
                    len(item.text.split()) > 1 and item.text.split()[-1] not in lx.LAYER_WORDS):
                # "remove the horse behind the fence": a where-word of the object, not a reorder
                specs[-1] = _described(specs[-1], Relative(item.text, "beside", _after_layer(item.text)),
                                       clause)
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
            resolve_ordinal(spec, origin)
            targets.extend(self._resolve(spec, clause, kind))
        return targets, kept

    def _resolve(self, spec: NounSpec, clause: str, kind: str) -> list[Target]:
        _check_object_words(spec.text.split(), clause)
        if kind in _TARGETLESS_KINDS and spec.phrase is not None:
            if spec.phrase.split()[-1] in lx.CAMERA_WORDS | {"image", "picture", "photo"}:
                return []
            raise _unaccounted(spec.text.split(), clause)  # the camera moves, never an object
        if spec.phrase is not None and spec.phrase.split()[-1] in _WHOLE_PICTURE and spec.select is None:
            raise refusal(clause, "editing the whole picture this way is not supported (objects in it can "
                                  "be edited; the camera can pan and zoom out)")
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
            phrase = earlier[-1].phrase
            if spec.anaphor_adjectives:  # "the big one" after "the small cup": the big cup
                phrase = " ".join([*spec.anaphor_adjectives, phrase.split()[-1]])
            return [Target(phrase=phrase, select=spec.select, index=spec.index)]
        return [
            Target(phrase=spec.phrase, select=spec.select, index=spec.index, description=spec.description)
        ]

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
            like = self._relative(draft)
            if like is not None:
                relation, anchor = like
                if relation != "like":
                    raise PlannerError(
                        f'"{draft.clause}": say how much, e.g. "bigger", "2x" or "as big as the cat"'
                    )
                return [Resize(target=t, like=anchor) for t in draft.targets]
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
        if any(isinstance(m, Comparative | Factor) or (isinstance(m, Relative) and m.relation == "like")
               for m in mods):
            return "resize"
        raise appearance_refusal(draft.clause) or _unaccounted(draft.clause.split())

    def _points(self, draft: _Draft) -> list[Point]:
        points = [self._point(m) for m in draft.modifiers if isinstance(m, Place | PointRef)]
        return [p for p in points if p is not None]

    def _relative(self, draft: _Draft) -> tuple[str, Target] | None:
        """The last relation to another object the draft gives, with that object as a target."""
        relatives = [m for m in draft.modifiers if isinstance(m, Relative)]
        if not relatives:
            return None
        relation = relatives[-1]
        spec = analyse_noun(relation.anchor)
        if relation.anchor_select is not None and spec.select is None:
            spec.select = relation.anchor_select
        resolve_ordinal(spec, None)
        if spec.pronoun == "singular":
            anchors = [self._other_object(draft, relation.text)]
        else:
            anchors = self._resolve(spec, draft.clause, draft.verb.kind)
        if len(anchors) != 1:
            raise PlannerError(f'"{relation.text}": name one object to place against')
        draft.anchors.append(anchors[0])
        return relation.relation, anchors[0]

    def _other_object(self, draft: _Draft, relation_text: str) -> Target:
        """What "her" in "make him as tall as her" means: the last object named before, other than
        the one being edited."""
        own = {target.phrase for target in draft.targets}
        earlier = self.drafts[: self.drafts.index(draft) + 1]
        named = [t for d in earlier for t in [*d.targets, *d.anchors]]
        if self.previous is not None:
            named.insert(0, self.previous)
        for target in reversed(named):
            if target.phrase not in own:
                return target
        raise PlannerError(
            f'"{relation_text}" in "{draft.clause}" has nothing to refer to: name the other object, '
            'e.g. "next to the bowl"'
        )

    def _toward_amount(self, draft: _Draft, relation_text: str) -> float | None:
        amounts = [m for m in draft.modifiers if isinstance(m, Amount)]
        if re.match(r"(?:a\s+(?:bit|little)\s)", relation_text):
            return TOWARD_SMALL
        if re.match(r"half\s*way", relation_text):
            return 0.5
        if relation_text.startswith("part of"):
            return TOWARD_SMALL
        if relation_text.startswith("most of"):
            return TOWARD_LARGE
        if relation_text.startswith("much "):
            return TOWARD_LARGE
        if not amounts:
            return None
        amount = amounts[-1]
        if amount.kind == "vague":
            return {"small": TOWARD_SMALL, "large": TOWARD_LARGE}.get(amount.intensity)
        if amount.kind in ("fraction", "number") and 0 < amount.value <= 1:
            return amount.value
        raise PlannerError(f'"{draft.clause}": say how much closer as a fraction of the gap, e.g. "halfway"')

    def _placed_beside(self, draft: _Draft) -> list[Operation] | None:
        relative = self._relative(draft)
        if relative is None:
            return None
        relation, anchor = relative
        if relation == "like":
            raise PlannerError(
                f'"{draft.clause}": "as big as" goes with a resize: "make the cat as big as the dog"'
            )
        if relation == "toward":
            text = next(m.text for m in reversed(draft.modifiers) if isinstance(m, Relative))
            amount = self._toward_amount(draft, text)
            return [Move(target=t, toward=anchor, amount=amount) for t in draft.targets]
        beside = Beside(anchor=anchor, side=_BESIDE_SIDES[relation])
        return [Move(target=t, beside=beside) for t in draft.targets]

    def _moves(self, draft: _Draft) -> list[Operation]:
        placed = self._placed_beside(draft)
        if placed is not None:
            return placed
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
        relative = self._relative(draft)
        if relative is not None and relative[0] not in ("toward", "like"):
            relation, anchor = relative
            side = _BESIDE_SIDES[relation]
            if anchor.phrase != draft.targets[0].phrase or side is None:
                return [Duplicate(target=t, beside=Beside(anchor=anchor, side=side)) for t in draft.targets]
            # "another candle to the right of the candle": an offset from the original
            step_dx, step_dy = _SIDE_STEPS[side]
            dx, dy = step_dx * MOVE_DEFAULT, step_dy * MOVE_DEFAULT
            return [Duplicate(target=t, dx=dx, dy=dy) for t in draft.targets]
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
        if pending and steps:
            raise PlannerError(
                f'"{draft.clause}": two distances for one direction; give one, e.g. "a bit" or "50 pixels"'
            )
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
