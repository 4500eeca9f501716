"""The LLM planner's prompt: versioned data files in ``layeredit/prompts/``, rendered to text."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

from layeredit.errors import InputError
from layeredit.plan import Antecedent, EditPlan, Target, plan_json_schema

DEFAULT_PROMPT_VERSION = 2


class DetectionLike(Protocol):
    """What the planner needs of a detection: a label, a score and a box (x0, y0, x1, y1)."""

    @property
    def label(self) -> str: ...

    @property
    def score(self) -> float: ...

    @property
    def box(self) -> Sequence[float]: ...


@dataclass(frozen=True)
class PlannerPrompt:
    version: int
    system: str
    examples: list[dict[str, Any]]
    json_fallback: str

    @classmethod
    def load(cls, version: int = DEFAULT_PROMPT_VERSION) -> PlannerPrompt:
        import yaml  # a dependency of langchain-core, so present wherever the LLM planner runs

        name = f"planner_v{version}.yaml"
        file = resources.files("layeredit") / "prompts" / name
        if not file.is_file():
            raise InputError(f"no planner prompt version {version} ({name} is not in layeredit/prompts)")
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        prompt = cls(
            version=int(data["version"]),
            system=data["system"].strip(),
            examples=list(data["examples"]),
            json_fallback=data["json_fallback"].strip(),
        )
        for example in prompt.examples:
            if "plan" in example:
                EditPlan.parse(example["plan"])  # a broken example would teach the model a broken plan
        return prompt

    def system_text(self, tool_calling: bool) -> str:
        parts = [self.system, "Examples (request -> answer):", *map(_render_example, self.examples)]
        if not tool_calling:
            parts += [self.json_fallback, json.dumps(plan_json_schema())]
        return "\n\n".join(parts)


def _render_example(example: dict[str, Any]) -> str:
    request = request_json(
        example["instruction"], tuple(example["image_size"]), _target(example.get("previous_target"))
    )
    if "plan" in example:
        answer = "submit_edit_plan " + EditPlan.parse(example["plan"]).to_json()
    else:
        answer = "decline_instruction " + json.dumps({"reason": example["decline"]})
    return f"{request}\n-> {answer}"


def _target(data: dict[str, Any] | None) -> Target | None:
    return None if data is None else Target.model_validate(data)


def request_json(
    instruction: str,
    image_size: tuple[int, int],
    previous: Antecedent | None = None,
    detections: Sequence[DetectionLike] = (),
    failed_plan: EditPlan | None = None,
    problems: Sequence[str] = (),
) -> str:
    """The user turn as one JSON object: JSON string escaping keeps the instruction inert data."""
    request: dict[str, Any] = {
        "instruction": instruction,
        "image_size": {"width": image_size[0], "height": image_size[1]},
    }
    if isinstance(previous, Target):
        request["previous_target"] = previous.model_dump(exclude_none=True)
    elif previous is not None:
        request["previous_operation"] = json.loads(previous.model_dump_json(exclude_none=True))
    if detections:
        request["detected_objects"] = [
            {"label": d.label, "score": round(float(d.score), 2), "box": [round(float(v)) for v in d.box]}
            for d in detections
        ]
    if failed_plan is not None:
        request["previous_plan"] = json.loads(failed_plan.to_json())
        request["problems_with_previous_plan"] = list(problems)
    return json.dumps(request)
