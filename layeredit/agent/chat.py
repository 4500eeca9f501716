"""The chat session: each line edits the current picture, with undo/redo, saved after every turn."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from layeredit.agent.executor import AgentOutcome, EditAgent, MaskNamesFinder, last_target
from layeredit.agent.llm import Planner
from layeredit.agent.session import SessionStore, Turn
from layeredit.engine.base import EditResult, Engine
from layeredit.errors import LayereditError, debugging, user_message
from layeredit.imageio import check_writable, load_image, save_image
from layeredit.plan import Antecedent, Pan
from layeredit.scope import FileScope
from layeredit.tools.auto import AutomaticResolver
from layeredit.tools.masks import load_mask
from layeredit.tools.resolve import MaskResolver, NamedMasks, head_noun

HELP = """Type an edit, e.g. "move the boy to the left", "make it a bit bigger". Commands:
  undo / redo      step back or forward through the edits
  history          list the edits (* marks the current picture)
  show plan        the edit plan of the current picture, as JSON
  save PATH        write the current picture to PATH (.png, .jpg, ...)
  mask NAME=PATH   give the mask of an object in the current picture (white = object)
  help             this text
  quit             leave (the session folder keeps everything; continue with --resume)"""


class ChatSession:
    """One picture edited turn after turn; ``handle`` takes a line and returns the reply."""

    # Finds objects that have no mask yet (grounding + SAM when their models are here).
    finder: MaskResolver | None = None
    # The folder that 'save', 'mask' and insert sources may use (None: anywhere).
    scope: FileScope | None = None

    def __init__(
        self, store: SessionStore, turns: list[Turn], current: int, planner: Planner, engine: Engine
    ):
        self.store = store
        self.turns = turns
        self.current = current
        self.planner = planner
        self.engine = engine  # one instance for the whole chat: the diffusion engine caches inversions
        self.finished = False

    @classmethod
    def start(
        cls,
        image_path: Path,
        folder: Path,
        planner: Planner,
        engine: Engine,
        masks: dict[str, str] | None = None,
    ) -> ChatSession:
        image = load_image(image_path)
        size = (image.shape[1], image.shape[0])
        loaded = {name.strip().lower(): load_mask(path, size) for name, path in (masks or {}).items()}
        store = SessionStore.create(folder)
        session = cls(store, [Turn(image=image, masks=loaded)], 0, planner, engine)
        store.save(session.turns, 0, written=0)
        return session

    @classmethod
    def resume(
        cls, folder: Path, planner: Planner, engine: Engine, masks: dict[str, str] | None = None
    ) -> ChatSession:
        store = SessionStore(folder)
        turns, current = store.load()
        session = cls(store, turns, current, planner, engine)
        for name, path in (masks or {}).items():
            session.add_mask(name, path)
        return session

    @property
    def turn(self) -> Turn:
        return self.turns[self.current]

    def handle(self, line: str) -> str:
        text = line.strip()
        command, _, argument = text.partition(" ")
        command = command.lower()
        if not text:
            return ""
        if text.lower() in ("quit", "exit", "bye"):
            self.finished = True
            return f"bye; the session is in {self.store.folder}"
        if text.lower() == "show plan":
            return "no edits yet" if self.turn.plan is None else self.turn.plan.to_json(indent=2)
        simple: dict[str, Callable[[], str]] = {"help": lambda: HELP, "undo": self.undo, "redo": self.redo}
        simple["history"] = self.history
        if command in simple and not argument:
            return simple[command]()
        if command == "save" and argument:
            return self.save(self._path(argument.strip(), "save path", output=True))
        if command == "mask" and argument:
            name, sep, path = argument.partition("=")
            if not sep or not name.strip() or not path.strip():
                return "error: write mask NAME=PATH, e.g. mask cat=cat.png"
            return self.add_mask(name, str(self._path(path.strip(), "mask path")))
        return self.edit(text)

    def _path(self, given: str, what: str, output: bool = False) -> Path:
        if self.scope is None:
            return Path(given).expanduser()
        return self.scope.output(given, what) if output else self.scope.path(given, what)

    def antecedent(self) -> Antecedent | None:
        """What the next instruction may refer back to: the last operation when it names an object
        or moves the camera (so "a bit more" repeats it), else the last object named."""
        plan = self.turn.plan
        last = plan.operations[-1] if plan is not None else None
        if isinstance(last, Pan) or getattr(last, "target", None) is not None:
            return last
        return self.turn.target

    def edit(self, instruction: str) -> str:
        turn = self.turn
        agent = EditAgent(
            self.planner,
            NamedMasks(turn.masks, fallback=self.finder),
            self.engine,
            MaskNamesFinder(NamedMasks(turn.masks)),
            scope=self.scope,
        )
        outcome = agent.run(turn.image, instruction, previous=self.antecedent())
        if outcome.result is None:
            return outcome.question or "error: nothing to edit"
        new = Turn(
            image=outcome.result.image,
            masks=masks_after_edit(turn.masks, outcome),
            instruction=instruction,
            plan=outcome.plan,
            target=last_target(outcome.plan) or turn.target,
        )
        if self.current + 1 < len(self.turns):
            # Forget the undone turns on disk before their turn numbers are reused.
            del self.turns[self.current + 1 :]
            self.store.save(self.turns, self.current, written=len(self.turns))
        self.turns.append(new)
        self.current += 1
        self.store.save(self.turns, self.current, written=self.current)
        revised = " (revised after looking again)" if outcome.revised else ""
        return f"done{revised}: {outcome.plan.summary()} [turn {self.current}]"

    def undo(self) -> str:
        if self.current == 0:
            return "nothing to undo"
        undone = self.turn.instruction
        self.current -= 1
        self.store.save(self.turns, self.current, written=len(self.turns))
        return f"undone: {undone} [turn {self.current}]"

    def redo(self) -> str:
        if self.current + 1 >= len(self.turns):
            return "nothing to redo"
        self.current += 1
        self.store.save(self.turns, self.current, written=len(self.turns))
        return f"redone: {self.turn.instruction} [turn {self.current}]"

    def history(self) -> str:
        lines = []
        for number, turn in enumerate(self.turns):
            marker = "*" if number == self.current else " "
            what = "original picture" if turn.instruction is None else turn.instruction
            lines.append(f"{marker} {number}: {what}")
        return "\n".join(lines)

    def save(self, path: Path) -> str:
        check_writable(path)
        save_image(self.turn.image, path)
        return f"saved {path}"

    def add_mask(self, name: str, path: str) -> str:
        size = (self.turn.image.shape[1], self.turn.image.shape[0])
        self.turn.masks[name.strip().lower()] = load_mask(path, size)
        self.store.save(self.turns, self.current, written=self.current)
        return f"mask '{name.strip().lower()}' added to turn {self.current}"


def masks_after_edit(masks: dict[str, np.ndarray], outcome: AgentOutcome) -> dict[str, np.ndarray]:
    """Each named mask moved along with its object, so the next turn finds it where it now is.

    Objects the plan did not name keep their masks (a pan or zoom-out makes those stale).
    """
    result: EditResult | None = outcome.result
    if result is None or outcome.stack is None:
        return dict(masks)
    names = NamedMasks(masks)
    updated = dict(names.masks)
    for target in result.plan.targets():
        name = next((n for n in (target.phrase.lower(), head_noun(target.phrase)) if n in updated), None)
        if name is None:
            continue
        mask = updated[name].copy()
        for before in outcome.stack.objects.get(target.key, []):
            mask &= ~before
        for layer in result.scene.layers:
            if layer.name == target.key:
                mask |= layer.placed_mask()
        updated[name] = mask
    return updated


def run_chat(session: ChatSession, lines: Iterable[str], reply: Callable[[str], None]) -> None:
    """Feed lines to the session until ``quit`` or the input ends; a failed turn changes nothing."""
    for line in lines:
        try:
            answer = session.handle(line)
        except (LayereditError, OSError) as exc:
            answer = user_message(exc)
        except Exception as exc:  # noqa: BLE001 - a bug in one turn must not end the chat or lose it
            if debugging():
                traceback.print_exc()
            answer = user_message(exc)
        if answer:
            reply(answer)
        if session.finished:
            return


def default_session_dir(image: Path) -> Path:
    """``STEM.chat`` in the current folder, numbered if taken, so no session is ever overwritten."""
    folder = Path(f"{image.stem}.chat")
    number = 2
    while folder.exists():
        folder = Path(f"{image.stem}.chat-{number}")
        number += 1
    return folder


def open_chat(
    image: Path | None,
    resume: Path | None,
    session_dir: Path | None,
    masks: dict[str, str],
    engine_name: str,
    llm: str | None,
    root: Path | None = None,
) -> None:
    """The ``layeredit chat`` command: a terminal (or scripted, line by line) chat on stdin."""
    from layeredit.agent.llm import make_planner
    from layeredit.api import resolve_engine

    planner = make_planner(llm)
    engine = resolve_engine(engine_name)
    if resume is not None:
        session = ChatSession.resume(resume, planner, engine, masks)
    else:
        assert image is not None
        folder = session_dir or default_session_dir(image)
        session = ChatSession.start(image, folder, planner, engine, masks)

    session.finder = AutomaticResolver()
    session.scope = FileScope(root or Path.cwd())

    def reply(text: str) -> None:
        print(text, flush=True)

    reply(f"session: {session.store.folder} (continue later with --resume {session.store.folder})")
    reply(f"turn {session.current}; type an edit, or 'help'")
    interactive = sys.stdin.isatty()
    run_chat(session, _lines(interactive), reply)


def _lines(interactive: bool) -> Iterator[str]:
    while True:
        if interactive:
            print("> ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            return
        yield line
