"""Errors raised by the planners."""

from __future__ import annotations

from layeredit.errors import LayereditError


class PlannerError(LayereditError, ValueError):
    """An instruction the planner cannot turn into an edit plan.

    The message quotes the words that were not understood and says what would work instead.
    """
