"""How the person or agent at the other end names an object, so an error quotes what they can type.

The same "no mask for 'ball'" happens under the command line, the chat, the Python API, an agent's
tool call and the REST API; each entry point says which one it is with :func:`speaking`, and the
messages ask for a mask in that interface's own words (``--mask ball=PATH`` on the command line,
``mask ball=PATH`` in the chat, the ``masks`` argument in a tool call, a button in the web editor).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Vocabulary:
    """Templates with ``{name}``: how to hand over an object's mask and box, and how to choose the
    detection models (None where the interface cannot)."""

    mask: str
    box: str | None = None
    models: str | None = None

    def give_object(self, name: str) -> str:
        ways = [self.mask] if self.box is None else [self.mask, self.box]
        return " or ".join(way.format(name=name) for way in ways)


COMMAND_LINE = Vocabulary(
    mask="pass --mask {name}=PATH",
    box="--box {name}=x0,y0,x1,y1",
    models="--grounding-model/--sam-model PATH",
)
CHAT = Vocabulary(
    mask="type mask {name}=PATH",
    models="start the chat with --grounding-model/--sam-model PATH",
)
PYTHON = Vocabulary(
    mask="pass masks={{'{name}': PATH}}",
    box="boxes={{'{name}': (x0, y0, x1, y1)}}",
    models="AutomaticResolver(grounding_model=..., sam_model=...)",
)
AGENT_TOOL = Vocabulary(
    mask='add "{name}": "MASK_PATH" to the masks argument',
    box='"{name}": [x0, y0, x1, y1] to the boxes argument',
)
REST = Vocabulary(
    mask="upload its mask as a 'masks' file named {name}.png",
    box='send boxes={{"{name}": [x0, y0, x1, y1]}}',
    models="start the server with --grounding-model/--sam-model PATH",
)

# The web editor: in words and its own tools, never code (a reply also offers a "Mark the NAME" button).
WEB = Vocabulary(mask="mark the {name} with the Mark tool (click it in the picture, or drag a box around it)")

_current: ContextVar[Vocabulary] = ContextVar("layeredit_vocabulary", default=PYTHON)


@contextmanager
def speaking(vocabulary: Vocabulary) -> Iterator[None]:
    """Messages raised inside the block use ``vocabulary`` (per thread and task: a ContextVar)."""
    token = _current.set(vocabulary)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> Vocabulary:
    return _current.get()


def give_object(name: str) -> str:
    """E.g. ``pass --mask ball=PATH or --box ball=x0,y0,x1,y1`` in the interface in use."""
    return current().give_object(name)
