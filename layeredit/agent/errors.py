"""Errors raised by the planners."""

from __future__ import annotations

from layeredit.errors import LayereditError


class PlannerError(LayereditError, ValueError):
    """An instruction the planner cannot turn into an edit plan.

    The message quotes the words that were not understood and says what would work instead.
    """


class UnsupportedEditError(PlannerError):
    """A request (or one clause of it) asking for an edit layeredit does not do.

    ``clause`` is the unsupported part and ``reason`` what is not supported; ``supported`` is the
    rest of the request when that part can be planned on its own (for a chat to offer it).
    """

    def __init__(self, clause: str, reason: str, message: str, supported: str | None = None):
        super().__init__(message)
        self.clause = clause
        self.reason = reason
        self.supported = supported

    def offering(self, supported: str) -> UnsupportedEditError:
        """The same refusal, asking whether to do ``supported`` (the rest of the request) alone."""
        message = f'{self}. Shall I do only "{supported}"? Send that on its own.'
        return UnsupportedEditError(self.clause, self.reason, message, supported)


class UnaccountedWords(PlannerError):
    """The rules could not account for every word of the request; ``words`` are the ones left over."""

    def __init__(self, words: tuple[str, ...], message: str):
        super().__init__(message)
        self.words = words
