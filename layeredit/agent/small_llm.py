"""A planner for small (local) language models: a short few-shot prompt, one JSON answer.

The model answers with one JSON object, either an edit plan or ``{"refuse": reason}``. The answer's
JSON Schema (:func:`answer_schema`) is handed to whatever decodes — a llama.cpp grammar in process,
``response_format`` on an OpenAI-compatible server — so it is never spent as prompt tokens. Whatever
the model says is only parsed and validated; an invalid plan gets one retry with the error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Protocol

import numpy as np

from layeredit.agent.errors import PlannerError
from layeredit.agent.prompting import DetectionLike
from layeredit.errors import InputError
from layeredit.plan import Antecedent, EditPlan, PlanError, Target, plan_json_schema

DEFAULT_SMALL_PROMPT_VERSION = 2
REFUSE_KEY = "refuse"
# Operations a text request can ask for; "insert" needs a second image file, which only the API names.
_TEXT_OPERATIONS = ("Move", "Remove", "Resize", "Flip", "Duplicate", "Swap", "Reorder", "Pan", "ZoomOut")
_SCHEMA_NOISE = ("title", "description", "default", "discriminator")

Message = dict[str, str]


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ChatBackend(Protocol):
    """Something that completes a chat with one JSON object following ``schema``."""

    model_name: str

    def complete(self, messages: list[Message], schema: dict[str, Any]) -> Completion: ...


@dataclass
class Usage:
    """Tokens read and written by a planner so far (benchmarks read the difference)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, completion: Completion) -> None:
        self.calls += 1
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens


@cache
def answer_schema() -> dict[str, Any]:
    """The JSON Schema of an answer: an edit plan, or ``{"refuse": reason}``.

    Derived from the plan's schema so the two cannot drift; ``op`` comes first and is required (a
    model writes the kind of edit before its fields), nulls are dropped (omit instead) and titles
    and descriptions are left out, as they only cost tokens where a server echoes the schema.
    """
    schema = plan_json_schema()
    defs = {name: _lean(spec) for name, spec in schema["$defs"].items() if name != "Insert"}
    for name in _TEXT_OPERATIONS:
        spec = defs[name]
        spec["properties"] = {"op": spec["properties"]["op"], **spec["properties"]}
        spec["required"] = ["op", *[key for key in spec.get("required", []) if key != "op"]]
    defs["Target"] = _target_schema(defs["Target"])
    kinds = [{"$ref": f"#/$defs/{name}"} for name in _TEXT_OPERATIONS]
    operations = {"type": "array", "minItems": 1, "items": {"anyOf": kinds}}
    plan = {"type": "object", "properties": {"operations": operations}, "required": ["operations"],
            "additionalProperties": False}  # fmt: skip
    refuse = {"type": "object", "properties": {REFUSE_KEY: {"type": "string"}}, "required": [REFUSE_KEY],
              "additionalProperties": False}  # fmt: skip
    return {"$defs": defs, "anyOf": [plan, refuse]}


def _target_schema(target: dict[str, Any]) -> dict[str, Any]:
    """A phrase with an optional select, or a phrase with select "index" and its index: never half of one."""
    phrase = target["properties"]["phrase"]
    selects = [name for name in target["properties"]["select"]["enum"] if name != "index"]
    chosen = {"type": "object", "additionalProperties": False, "required": ["phrase"],
              "properties": {"phrase": phrase, "select": {"type": "string", "enum": selects}}}  # fmt: skip
    index = target["properties"]["index"]
    indexed = {"type": "object", "additionalProperties": False, "required": ["phrase", "select", "index"],
               "properties": {"phrase": phrase, "select": {"const": "index"}, "index": index}}  # fmt: skip
    return {"anyOf": [chosen, indexed]}


def _lean(spec: Any) -> Any:
    if isinstance(spec, list):
        return [_lean(item) for item in spec]
    if not isinstance(spec, dict):
        return spec
    if "properties" in spec:  # property names are data, never noise
        spec = {**spec, "properties": {name: _lean(value) for name, value in spec["properties"].items()}}
    spec = {key: value if key == "properties" else _lean(value)
            for key, value in spec.items() if key not in _SCHEMA_NOISE}  # fmt: skip
    options = spec.get("anyOf")
    if options is not None:
        kept = [option for option in options if option != {"type": "null"}]
        if len(kept) == 1:
            del spec["anyOf"]
            spec.update(kept[0])
        else:
            spec["anyOf"] = kept
    return spec


@dataclass(frozen=True)
class SmallPrompt:
    """The system text and few-shot examples, rendered as chat turns (a fixed, cacheable prefix)."""

    version: int
    system: str
    examples: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, version: int = DEFAULT_SMALL_PROMPT_VERSION) -> SmallPrompt:
        return _load_prompt(version)

    def prefix(self) -> list[Message]:
        messages = [{"role": "system", "content": self.system}]
        for example in self.examples:
            previous = example.get("previous")
            messages.append({"role": "user", "content": user_text(
                example["request"], (1000, 1000), None if previous is None else Target(phrase=previous),
                [str(label) for label in example.get("objects", [])],
            )})  # fmt: skip
            answer = example["plan"] if "plan" in example else {REFUSE_KEY: example["refuse"]}
            messages.append({"role": "assistant", "content": json.dumps(answer)})
        return messages


@cache
def _load_prompt(version: int) -> SmallPrompt:
    import yaml  # a dependency of the llm-local and agent extras

    name = f"planner_small_v{version}.yaml"
    file = resources.files("layeredit") / "prompts" / name
    if not file.is_file():
        raise InputError(f"no small-model prompt version {version} ({name} is not in layeredit/prompts)")
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    prompt = SmallPrompt(int(data["version"]), data["system"].strip(), list(data["examples"]))
    for example in prompt.examples:
        if "plan" in example:
            EditPlan.parse(example["plan"])  # a broken example would teach the model a broken plan
    return prompt


def user_text(
    instruction: str,
    image_size: tuple[int, int],
    previous: Antecedent | None = None,
    objects: Sequence[str] = (),
    problems: Sequence[str] = (),
) -> str:
    """The user turn: the request as a JSON string (so it stays data), then what the model may need.

    The image size is given only when the request has numbers (pixels); objects only when detected.
    """
    lines = [f"Request: {json.dumps(instruction)}"]
    if re.search(r"\d", instruction):
        lines.append(f"Image size: {image_size[0]}x{image_size[1]} pixels")
    if objects:
        lines.append("Objects in the photo: " + ", ".join(dict.fromkeys(objects)))
    if previous is not None:
        target = previous if isinstance(previous, Target) else getattr(previous, "target", None)
        if target is not None:
            lines.append(f"Previous target: {target.phrase}")
    if problems:
        lines.append("Your last plan could not be used: " + "; ".join(problems))
    return "\n".join(lines)


class SmallModelPlanner:
    """Plans through a :class:`ChatBackend` with the short prompt; the answer is always one JSON object."""

    def __init__(
        self, backend: ChatBackend, prompt_version: int = DEFAULT_SMALL_PROMPT_VERSION, retries: int = 1
    ):
        self.backend = backend
        self.model = backend  # its model_name is shown next to chat replies
        self.prompt = SmallPrompt.load(prompt_version)
        self.retries = retries
        self.usage = Usage()
        self._prefix = self.prompt.prefix()

    def plan(
        self,
        instruction: str,
        image_size: tuple[int, int],
        previous: Antecedent | None = None,
        *,
        image: np.ndarray | None = None,
        detections: Sequence[DetectionLike] = (),
    ) -> EditPlan:
        labels = [d.label for d in detections]
        return self._ask(user_text(instruction, image_size, previous, labels))

    def revise(
        self,
        instruction: str,
        image_size: tuple[int, int],
        failed_plan: EditPlan,
        problems: Sequence[str],
        detections: Sequence[DetectionLike],
        previous: Antecedent | None = None,
        image: np.ndarray | None = None,
    ) -> EditPlan:
        """A new plan after ``failed_plan`` could not be grounded, given what was detected."""
        labels = [d.label for d in detections]
        return self._ask(user_text(instruction, image_size, previous, labels, problems))

    def _ask(self, request: str) -> EditPlan:
        messages = [*self._prefix, {"role": "user", "content": request}]
        problem = ""
        for _attempt in range(self.retries + 1):
            completion = self.backend.complete(messages, answer_schema())
            self.usage.add(completion)
            try:
                return read_answer(completion.text)
            except _InvalidAnswer as invalid:
                problem = str(invalid)
                messages += [
                    {"role": "assistant", "content": completion.text},
                    {"role": "user", "content": f"Error: {problem}. Answer again with one corrected plan."},
                ]
        name = self.backend.model_name
        raise PlannerError(f"the model {name} gave no valid edit plan; last problem: {problem}")


class _InvalidAnswer(Exception):
    """An answer that is not a valid plan; the message goes back to the model."""


def read_answer(text: str) -> EditPlan:
    """The plan in an answer; :class:`PlannerError` when the model refused."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise _InvalidAnswer("the answer contains no JSON object")
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        raise _InvalidAnswer(f"the answer is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise _InvalidAnswer("the answer must be a JSON object")
    if REFUSE_KEY in data and "operations" not in data:
        raise PlannerError(f"the planner declined the instruction: {data[REFUSE_KEY]}")
    try:
        return EditPlan.parse(data)
    except PlanError as exc:
        raise _InvalidAnswer(str(exc)) from None
