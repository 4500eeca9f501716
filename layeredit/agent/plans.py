"""An edit plan from whatever a caller gave: plain English, plan JSON, a dict or a plan."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from layeredit.agent.rules import RulePlanner
from layeredit.plan import EditPlan


def make_plan(instruction: str | EditPlan | Mapping[str, Any], image_size: tuple[int, int]) -> EditPlan:
    """An :class:`EditPlan` from plain English (rule planner), plan JSON, a dict or a plan."""
    if isinstance(instruction, EditPlan):
        return instruction
    if isinstance(instruction, Mapping) or instruction.lstrip().startswith("{"):
        return EditPlan.parse(instruction if isinstance(instruction, str) else dict(instruction))
    return RulePlanner().plan(instruction, image_size)
