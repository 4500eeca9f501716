"""Errors raised by the planners."""

from __future__ import annotations


class PlannerError(ValueError):
    """An instruction the planner cannot turn into an edit plan.

    The message quotes the words that were not understood and says what would work instead.
    """
