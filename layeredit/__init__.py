"""layeredit: edit photos from plain-language instructions."""

from layeredit.api import edit, make_plan
from layeredit.batch import edit_many
from layeredit.engine.base import EditResult
from layeredit.layered import compose, decompose
from layeredit.plan import EditPlan, PlanError

__all__ = ["EditPlan", "EditResult", "PlanError", "compose", "decompose", "edit", "edit_many", "make_plan"]
