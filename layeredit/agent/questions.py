"""Questions a chat asks back instead of guessing, each with the answers it can act on.

A chat turn that cannot be carried out as said is not always a dead end: "move it left" with two
marked objects, "remove the kid" when only a boy is marked, two balls that match equally well, or
"move the boy left and rotate the ball" (half of which is possible). For these the session asks,
offering :class:`Choice` buttons; picking one runs the instruction again with the choice applied.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from layeredit.admission.names import choice_number
from layeredit.agent.errors import PlannerError, UnaccountedWords
from layeredit.agent.executor import AgentOutcome
from layeredit.agent.lexicon import SINGULAR_PRONOUNS
from layeredit.plan import Antecedent, EditPlan, Target
from layeredit.tools.resolve import MaskResolver, NamedMasks, head_noun

# Where the rule planner and people alike split an instruction into separate edits.
CLAUSE_BREAK = re.compile(r"\s*(?:[,;]|\band then\b|\bthen\b|\band\b)\s*")
# Words of a message that goes on with the last motion: "a bit more", "further left", "again".
FOLLOW_UP = re.compile(r"\b(?:more|further|farther|again|less|bit|little|left|right|up|down)\b", re.I)
YES = re.compile(r"(?:y|yes|yeah|yep|sure|ok|okay|please|please do|do it|go ahead|fine)\W*", re.IGNORECASE)
NO = re.compile(r"(?:n|no|nope|no thanks|cancel|never mind|nevermind)\W*", re.IGNORECASE)
# A choice's number as people type it: "2", "2.", "#2", "(2)".
NUMBER = re.compile(r"[#(]?\s*([0-9]{1,4})\s*[.)]?", re.ASCII)
# Messages shaped like an answer that pick no choice: numbers out of range or in other scripts
# ("7", "¹", "٣"), a "yes" to several choices, a shrug. They are asked again, never planned.
UNSURE = re.compile(
    r"(?:maybe|perhaps|not sure|unsure|dunno|don'?t know|idk|hm+|either|both|any|whichever|whatever|\?+)\W*",
    re.IGNORECASE,
)
PRONOUN_WORDS = frozenset(phrase for phrase in SINGULAR_PRONOUNS if " " not in phrase)

_NOT_PICKED_TEXT = " does not pick an answer: answer "
_NOT_PICKED = re.compile(rf'^".*"{_NOT_PICKED_TEXT}[^\n]*\n')

PlanFunction = Callable[[str, Antecedent | None], EditPlan]


@dataclass
class Choice:
    """One answer: run ``instruction`` again, with ``mask`` named ``bind`` and/or ``previous`` as "it"."""

    label: str
    instruction: str
    mask: np.ndarray | None = None  # the object this answer means, shown next to the button
    bind: str | None = None  # the name ``mask`` takes before the instruction runs again
    previous: Target | None = None  # what "it" means when the instruction runs again

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "instruction": self.instruction,
            "bind": self.bind,
            "previous": None if self.previous is None else self.previous.model_dump(exclude_none=True),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], mask: np.ndarray | None) -> Choice:
        previous = data.get("previous")
        return cls(
            label=data["label"],
            instruction=data["instruction"],
            mask=mask,
            bind=data.get("bind"),
            previous=None if previous is None else Target.model_validate(previous),
        )


@dataclass
class Question:
    text: str
    choices: list[Choice] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # objects to mark before asking again (a web button)

    def answer(self, text: str) -> Choice | None:
        """The choice ``text`` picks: its number, or "yes" when there is only one; else None."""
        written = NUMBER.fullmatch(text.strip())  # "2", "#2", "(2)", "2."
        number = None if written is None else choice_number(written.group(1), len(self.choices))
        if number is not None:
            return self.choices[number - 1]
        if len(self.choices) == 1 and YES.fullmatch(text.strip()):
            return self.choices[0]
        return None

    def unanswered(self, text: str) -> bool:
        """Whether ``text`` reads as an answer to this question that picks none of its choices."""
        text = text.strip()
        if not self.choices or self.answer(text) is not None or NO.fullmatch(text):
            return False
        numeric = bool(text) and all(c.isnumeric() or c in "#.() -+,_" for c in text)
        return numeric or bool(YES.fullmatch(text)) or bool(UNSURE.fullmatch(text))

    def again(self, text: str) -> Question:
        """The same question, saying that ``text`` did not answer it."""
        shown = text if len(text) <= 20 else text[:17] + "..."
        how = "yes or no" if len(self.choices) == 1 else f"with a number from 1 to {len(self.choices)}"
        asked = _NOT_PICKED.sub("", self.text, count=1)  # said once, however often it is asked again
        return Question(f'"{shown}"{_NOT_PICKED_TEXT}{how}.\n{asked}', self.choices)

    def prompt(self) -> str:
        """The question as a terminal shows it: numbered choices, answered by their number."""
        if not self.choices:
            return self.text
        lines = [f"  {number}) {choice.label}" for number, choice in enumerate(self.choices, 1)]
        how = "yes or no" if len(self.choices) == 1 else "with a number"
        return "\n".join([self.text, *lines, f"answer {how}, or say something else"])


def _short_reason(clause: str, error: Exception) -> str:
    # The rule planner quotes the clause and appends its whole vocabulary; the question needs neither.
    reason = str(error).split("; known verbs", 1)[0]
    match = re.fullmatch(r'could not understand "(.*)"(?: \((.*)\))?', reason)
    if match is None or match.group(1) != clause:
        return reason
    return match.group(2) or "I don't know how"


def has_pronoun(instruction: str) -> bool:
    return any(word in PRONOUN_WORDS for word in re.findall(r"[a-z]+", instruction.lower()))


def first_object(
    plan: PlanFunction, instruction: str, masks: Mapping[str, np.ndarray], previous: Antecedent | None
) -> np.ndarray | None:
    """The mask of the first object ``instruction`` acts on, to show beside an offer (PlannerError
    when it cannot be planned)."""
    targets = plan(instruction, previous).targets()
    return NamedMasks(masks).lookup(targets[0]) if targets else None


def question_after_planner_error(
    instruction: str,
    error: PlannerError,
    plan: PlanFunction,
    masks: Mapping[str, np.ndarray],
    previous: Antecedent | None,
) -> Question | None:
    """A question that can rescue an instruction the planner refused, or None when none can."""
    present = {name: mask for name, mask in masks.items() if mask.any()}
    if previous is None and has_pronoun(instruction) and len(present) > 1:
        choices = []
        for name, mask in present.items():
            try:
                plan(instruction, Target(phrase=name))
            except PlannerError:
                continue
            choices.append(Choice(name, instruction, mask=mask, previous=Target(phrase=name)))
        if choices:
            return Question(f'Which object do you mean in "{instruction}"?', choices)
    clauses = [c for c in CLAUSE_BREAK.split(instruction.strip()) if c]
    if len(clauses) < 2:
        return _ask_about_words(instruction, error)
    possible, impossible = [], []
    for clause in clauses:
        try:
            plan(clause, previous)
        except PlannerError as exc:
            impossible.append(f'"{clause}": {_short_reason(clause, exc)}')
        else:
            possible.append(clause)
    if not possible or not impossible:
        return _ask_about_words(instruction, error)
    doable = " and ".join(possible)
    try:
        shown = first_object(plan, doable, masks, previous)
    except PlannerError:
        return _ask_about_words(instruction, error)
    text = "I can't do " + "; ".join(impossible) + f". Shall I just {doable}?"
    return Question(text, [Choice(f"only: {doable}", doable, mask=shown)])


def _ask_about_words(instruction: str, error: PlannerError) -> Question | None:
    """For words the planner could not account for: ask what they mean rather than guess."""
    if not isinstance(error, UnaccountedWords):
        return None
    words = " ".join(error.words)
    return Question(
        f'I don\'t understand "{words}" in "{instruction.strip()}", so I have not changed anything. '
        "What should I do? Say the edit in other words, or without that part."
    )


def question_after_grounding(
    instruction: str, outcome: AgentOutcome, image: np.ndarray, finder: MaskResolver | None
) -> Question:
    """Which object the first target that could not be grounded means, with the candidates.

    Candidates are the detector's matches for the phrase; without them the question offers no
    other marked object (a boy is no answer to "remove the lamp"): it names the objects to mark.
    """
    assert outcome.question is not None and outcome.missing
    target = outcome.missing[0].target
    candidates: list[tuple[str, np.ndarray]] = []
    if finder is not None:
        try:
            found = finder.resolve(image, Target(phrase=target.phrase, select="all"))
        except (LookupError, ValueError):
            found = []
        if len(found) > 1:
            candidates = [(f"{target.phrase} {n} from the left", mask) for n, mask in enumerate(found, 1)]
    choices = [Choice(label, instruction, mask=mask, bind=target.phrase) for label, mask in candidates]
    missing = list(dict.fromkeys(head_noun(item.target.phrase) for item in outcome.missing))
    return Question(outcome.question, choices, missing)


def follow_up(instruction: str, previous: Antecedent | None) -> str | None:
    """A follow-up such as "a bit more" after a move, as the planner reads it ("move it a bit more").

    None when the last turn was no move or pan, or the message names what it acts on.
    """
    op = getattr(previous, "op", None)
    if op not in ("move", "pan") or has_pronoun(instruction) or not FOLLOW_UP.search(instruction):
        return None
    return f"{op} it {instruction.strip()}" if op == "move" else f"pan {instruction.strip()}"
