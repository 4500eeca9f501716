"""Errors shared across layeredit's packages.

Every mistake a user can fix raises a subclass of :class:`LayereditError`; the entry points (CLI,
chat, MCP, server, LangChain tools) show its message as one line. Any other exception is a bug in
layeredit and is reported as one, with a hint to set ``LAYEREDIT_DEBUG=1`` for the traceback.
"""

from __future__ import annotations

import os

MESSAGE_LIMIT = 400  # characters of a message shown to a user; a 10 kB instruction is not echoed whole
QUOTE_LIMIT = 80  # characters of user input quoted inside a message


class LayereditError(Exception):
    """The root of user-facing errors: the message says what was wrong and what to do."""


class InputError(LayereditError, ValueError):
    """Input that cannot be used (a value, a file, an option); the message says which and why."""


class BudgetError(InputError):
    """Work over the pixel budget; the message names the size and the setting that raises the limit."""


class ScopeError(InputError):
    """A path outside the folder an interface may read or write."""


class ModelLoadError(LayereditError, ValueError):
    """Model weights that cannot be loaded; the message names the model and how to provide it."""


def clip(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` on one line, cut in the middle when longer than ``limit`` characters."""
    flat = " ".join(str(text).split())
    if len(flat) <= limit:
        return flat
    keep = max(limit - 20, 8)
    return f"{flat[: keep * 2 // 3]} …[{len(flat) - keep} chars cut]… {flat[-(keep // 3) :]}"


def is_user_error(exc: BaseException) -> bool:
    """A mistake the user can fix (or the machine's: disk full, permission denied), not a bug."""
    return isinstance(exc, LayereditError) or (isinstance(exc, OSError) and bool(exc.strerror))


def error_text(exc: BaseException) -> str:
    """The message of a user error on one line, cut to :data:`MESSAGE_LIMIT`; a bug report else."""
    if isinstance(exc, LayereditError):
        return clip(str(exc), MESSAGE_LIMIT)
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return clip(f"{exc.strerror}{where}", MESSAGE_LIMIT)
    return (
        f"internal error (a bug in layeredit): {type(exc).__name__}: {clip(str(exc), MESSAGE_LIMIT)} "
        "(set LAYEREDIT_DEBUG=1 for details)"
    )


def user_message(exc: BaseException) -> str:
    """The one line an entry point shows for ``exc``: ``error: ...`` or ``internal error ...``."""
    return f"error: {error_text(exc)}" if is_user_error(exc) else error_text(exc)


def debugging() -> bool:
    """Whether tracebacks of internal errors are wanted (``LAYEREDIT_DEBUG=1``)."""
    return os.environ.get("LAYEREDIT_DEBUG", "") not in ("", "0")


class PlacementError(InputError):
    """A placement relative to another object that cannot be carried out (no room, anchor gone)."""


class ManifestError(InputError):
    """A batch manifest that cannot be read; the message names the file, the line and what is wrong."""
