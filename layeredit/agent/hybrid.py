"""The hybrid planner: the rules answer what they fully understand, a language model the rest.

The rules are exact when their parse accounts for the whole request; a model reads what they cannot,
but may invent. So the model is asked only when the rules could not plan (and did not refuse an
out-of-scope edit), and its plan is checked against the request (:mod:`plan_check`) before anyone
runs it: a plan the words do not back is a :class:`PlannerError` naming the problem, never an edit.
Only words the rules could not account for (:class:`UnaccountedWords`) go to the model: the rules'
own questions (a contradiction such as "remove the car but keep its reflection", "the cat to the left
of the cat") and refusals stay, as a model would plan them anyway, and wrongly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from layeredit.agent.errors import PlannerError, UnaccountedWords
from layeredit.agent.plan_check import plan_problems
from layeredit.agent.prompting import DetectionLike
from layeredit.agent.rules import RulePlanner
from layeredit.plan import Antecedent, EditPlan

if TYPE_CHECKING:
    from layeredit.editing import RevisingPlanner


class UnbackedPlanError(PlannerError):
    """The model's plan says things the request does not; ``problems`` lists them."""

    def __init__(self, plan: EditPlan, problems: Sequence[str], message: str):
        super().__init__(message)
        self.plan = plan
        self.problems = list(problems)


class HybridPlanner:
    """Rules first; the model (checked) when the rules cannot account for the words of the request."""

    def __init__(self, model: RevisingPlanner, rules: RulePlanner | None = None):
        self.rules = rules or RulePlanner()
        self.llm = model
        self.model = getattr(model, "model", None)  # shown next to chat replies

    def plan(
        self,
        instruction: str,
        image_size: tuple[int, int],
        previous: Antecedent | None = None,
        *,
        image: np.ndarray | None = None,
        detections: Sequence[DetectionLike] = (),
    ) -> EditPlan:
        try:
            return self.rules.plan(instruction, image_size, previous)
        except UnaccountedWords as not_understood:  # any other refusal or question of the rules stands
            rules_said = str(not_understood).split("; known verbs", 1)[0]  # not the whole vocabulary
        plan = self.llm.plan(instruction, image_size, previous, image=image, detections=detections)
        return checked(plan, instruction, detections, previous, rules_said)

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
        """The model's new plan after ``failed_plan`` could not be grounded, checked like the first."""
        plan = self.llm.revise(instruction, image_size, failed_plan, problems, detections, previous, image)
        return checked(plan, instruction, detections, previous)


def checked(
    plan: EditPlan,
    instruction: str,
    detections: Sequence[DetectionLike] = (),
    previous: Antecedent | None = None,
    rules_said: str = "",
) -> EditPlan:
    """``plan`` if the request backs all of it, else :class:`UnbackedPlanError` naming what is not."""
    problems = plan_problems(plan, instruction, [d.label for d in detections], previous)
    if not problems:
        return plan
    before = f"{rules_said}; " if rules_said else ""
    raise UnbackedPlanError(
        plan, problems,
        f'{before}a guess "{plan.summary()}" was not used because {"; ".join(problems)}. '
        "Please say it more plainly",
    )  # fmt: skip
