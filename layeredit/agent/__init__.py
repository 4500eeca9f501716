"""Planners: turn a plain-language instruction into an :class:`~layeredit.plan.EditPlan`."""

from layeredit.agent.errors import PlannerError
from layeredit.agent.rules import RulePlanner

__all__ = ["PlannerError", "RulePlanner"]
