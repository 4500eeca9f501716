"""An edit plan from whatever a caller gave: plain English, plan JSON, a dict or a plan."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from layeredit.editing import Planner, plan_of
from layeredit.plan import EditPlan


def default_planner() -> Planner:
    """The offline rule planner (its grammar tables load on first use)."""
    from layeredit.agent.rules import RulePlanner

    return RulePlanner()


def make_plan(
    instruction: str | EditPlan | Mapping[str, Any],
    image_size: tuple[int, int],
    planner: Planner | None = None,
    image: np.ndarray | None = None,
) -> EditPlan:
    """An :class:`EditPlan` from plain English (``planner``, default the rules), plan JSON, a dict
    or a plan; a planner that looks at pictures is shown ``image``."""
    return plan_of(instruction, image_size, planner or default_planner(), image=image)
