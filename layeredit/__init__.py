"""layeredit: edit photos from plain-language instructions."""

from layeredit.api import edit, make_plan
from layeredit.engine.base import EditResult
from layeredit.layered import compose, decompose
from layeredit.plan import EditPlan, PlanError

__all__ = ["EditPlan", "EditResult", "PlanError", "compose", "decompose", "edit", "make_plan"]
