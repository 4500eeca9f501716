"""The chat session: each line edits the current picture, with undo/redo, saved after every turn."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, Literal

import numpy as np

from layeredit.admission.outputs import claim_output
from layeredit.admission.roots import FileScope
from layeredit.agent.errors import PlannerError, UnsupportedEditError
from layeredit.agent.executor import EditAgent, MasksThenDetection, ObjectFinder, last_target
from layeredit.agent.llm import Planner
from layeredit.agent.planner_options import PlannerOptions
from layeredit.agent.questions import (
    NO,
    Choice,
    Question,
    first_object,
    follow_up,
    question_after_grounding,
    question_after_planner_error,
)
from layeredit.agent.session import SessionError, SessionStore, Turn
from layeredit.editing import masks_after_edit
from layeredit.engine.base import Engine, ProgressCallback
from layeredit.engine.resolution import ResolutionParams
from layeredit.errors import LayereditError, debugging, error_text, user_message
from layeredit.hints import CHAT, speaking
from layeredit.imageio import check_writable, load_image, save_image
from layeredit.plan import Antecedent, EditPlan, Move, Pan, Target
from layeredit.tools.auto import AutomaticResolver
from layeredit.tools.masks import load_mask
from layeredit.tools.resolve import MaskResolver, NamedMasks

HELP = """Type an edit, e.g. "move the boy to the left", "make it a bit bigger". Commands:
  undo / redo      step back or forward through the edits
  history          list the edits (* marks the current picture)
  show plan        the edit plan of the current picture, as JSON
  save PATH        write the current picture to PATH (.png, .jpg, ...), a new file
  save --overwrite PATH   the same, replacing the file at PATH
  mask NAME=PATH   give the mask of an object in the current picture (white = object)
  refine PATH      mark features beside an object the next edit removes (e.g. lettering) that
                   must not be copied into its hole (white = keep out)
  again            do the last edit once more (e.g. the same move, from where the object is now)
  help             this text
  quit             leave (the session folder keeps everything; continue with --resume)"""

# Lines that repeat the current picture's edit plan as it is, whatever the planner.
REPEAT_LINES = {"again", "once more", "one more time", "repeat", "do it again", "same again"}


@dataclass
class Reply:
    """What the session answers to one message, for a terminal line or a web page alike."""

    text: str
    kind: Literal["edit", "question", "info", "error"]
    turn: int  # the current turn after the message
    planner: str | None = None  # which planner read the message, when one did
    question: Question | None = None


class ChatSession:
    """One picture edited turn after turn.

    ``respond`` takes a message (an edit, a number answering a question, undo, redo) and returns
    a :class:`Reply`; ``handle`` adds the terminal's commands on top. Both the ``layeredit chat``
    terminal and the web editor's server sessions are this class.
    """

    # Finds objects that have no mask yet (grounding + SAM when their models are here).
    finder: MaskResolver | None = None
    # Sees what matches a phrase, so that two equally likely objects make the chat ask (the models).
    detector: ObjectFinder | None = None
    # The folder that 'save', 'mask' and insert sources may use (None: anywhere).
    scope: FileScope | None = None
    # How a photo larger than the engine's working size is edited (the web page's "Large photos");
    # None: the engine's own.
    resolution: ResolutionParams | None = None
    # Pictures given for inserts by file name (a server's uploads); the scope is asked after them.
    sources: dict[str, np.ndarray] | None = None
    # Features beside an object the next edit removes, kept out of its hole (for the current picture).
    refine_mask: np.ndarray | None = None

    def __init__(
        self,
        store: SessionStore,
        turns: list[Turn],
        current: int,
        planner: Planner,
        engine: Engine,
        log: list[dict[str, Any]] | None = None,
        question: Question | None = None,
    ):
        self.store = store
        self.turns = turns
        self.current = current
        self.planner = planner
        self.engine = engine  # one instance for the whole chat: the diffusion engine caches inversions
        self.log = log or []
        self.question = question  # asked and not answered yet
        self.finished = False

    @classmethod
    def start(
        cls,
        image_path: Path | np.ndarray,
        folder: Path,
        planner: Planner,
        engine: Engine,
        masks: dict[str, str] | dict[str, np.ndarray] | None = None,
    ) -> ChatSession:
        image = image_path if isinstance(image_path, np.ndarray) else load_image(image_path, keep_alpha=True)
        size = (image.shape[1], image.shape[0])
        loaded = {
            name.strip().lower(): mask if isinstance(mask, np.ndarray) else load_mask(mask, size)
            for name, mask in (masks or {}).items()
        }
        store = SessionStore.create(folder)
        session = cls(store, [Turn(image=image, masks=loaded)], 0, planner, engine)
        session.save(written=0)
        return session

    @classmethod
    def resume(
        cls, folder: Path, planner: Planner, engine: Engine, masks: dict[str, str] | None = None
    ) -> ChatSession:
        store = SessionStore(folder)
        saved = store.load()
        session = cls(store, saved.turns, saved.current, planner, engine, saved.log, saved.question)
        for name, path in (masks or {}).items():
            session.add_mask(name, path)
        return session

    @property
    def turn(self) -> Turn:
        return self.turns[self.current]

    @property
    def planner_name(self) -> str:
        return planner_name(self.planner)

    def save(self, written: int) -> None:
        self.store.save(self.turns, self.current, written, self.log, self.question)

    def handle(self, line: str) -> str:
        """A terminal line: the commands below, or a message for :meth:`respond`."""
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
        simple: dict[str, Callable[[], str]] = {"help": lambda: HELP, "history": self.history}
        if command in simple and not argument:
            return simple[command]()
        if command == "save" and argument:
            given = argument.strip()
            overwrite = given.startswith("--overwrite ")
            given = given.removeprefix("--overwrite").strip() if overwrite else given
            return self.save_image(self._path(given, "save path", output=True), overwrite)
        if command == "mask" and argument:
            name, sep, path = argument.partition("=")
            if not sep or not name.strip() or not path.strip():
                return "error: write mask NAME=PATH, e.g. mask cat=cat.png"
            return self.add_mask(name, str(self._path(path.strip(), "mask path")))
        if command == "refine" and argument:
            size = (self.turn.image.shape[1], self.turn.image.shape[0])
            self.refine_mask = load_mask(self._path(argument.strip(), "refine mask path"), size)
            return "refine mask set for the next edit"
        reply = self.respond(text)
        if reply.kind == "error":
            return f"error: {reply.text}"
        return reply.question.prompt() if reply.question is not None else reply.text

    def respond(
        self, message: str, progress: ProgressCallback | None = None, said: str | None = None
    ) -> Reply:
        """One message of the conversation, logged (as ``said``, if given) and saved.

        A message is an instruction, edit-plan JSON, undo, redo, or the answer to a question;
        a failed edit changes no picture.
        """
        text = message.strip()
        question, self.question = self.question, None
        picked = None if question is None else question.answer(text)
        said = said or (text if picked is None else picked.label)
        self.log.append({"role": "user", "text": said, "turn": self.current})
        try:
            if question is not None and picked is None and NO.fullmatch(text):
                reply = Reply("ok, nothing changed", "info", self.current)
            elif question is not None and picked is None and question.unanswered(text):
                again = question.again(text)
                reply = Reply(again.text, "question", self.current, self.planner_name, again)
            elif text.lower() in ("undo", "redo"):
                reply = self.undo() if text.lower() == "undo" else self.redo()
            elif text.lower().rstrip(".!") in REPEAT_LINES:
                reply = self._repeat(text, progress)
            elif picked is not None:
                reply = self._choose(picked, progress)
            else:
                reply = self._edit(text, None, progress)
        except (LayereditError, OSError) as exc:
            reply = Reply(error_text(exc), "error", self.current, self.planner_name)
        except Exception as exc:  # noqa: BLE001 - a bug in one turn must not end the chat or lose it
            if debugging():
                traceback.print_exc()
            reply = Reply(error_text(exc), "error", self.current, self.planner_name)
        return self.note(reply)

    def drag(
        self,
        name: str,
        start: tuple[int, int],
        end: tuple[int, int],
        progress: ProgressCallback | None = None,
    ) -> Reply:
        """A gesture: the object ``name`` dragged from ``start`` to ``end`` (pixels) moves by as much."""
        height, width = self.turn.image.shape[:2]
        dx, dy = end[0] - start[0], end[1] - start[1]
        try:
            move = Move(target=Target(phrase=name.strip().lower()), dx=dx / width, dy=dy / height)
        except ValueError as exc:
            raise SessionError(f"cannot drag {name!r}: {exc}") from None
        plan = EditPlan(operations=[move])
        return self.respond(plan.to_json(), progress, said=f"drag the {name} by ({dx:+d}, {dy:+d}) px")

    def choose(self, number: int, progress: ProgressCallback | None = None) -> Reply:
        """Answer the pending question with its choice ``number`` (0-based)."""
        question = self.question
        if question is None or not 0 <= number < len(question.choices):
            raise SessionError("there is no such answer: the question was answered or replaced")
        return self.respond(str(number + 1), progress)

    def note(self, reply: Reply) -> Reply:
        """Log a reply of the session (and save it), as `respond` does with its own."""
        self.question = reply.question
        entry = {"role": "assistant", "text": reply.text, "kind": reply.kind, "turn": reply.turn}
        if reply.planner is not None:
            entry["planner"] = reply.planner
        self.log.append(entry)
        self.save(written=len(self.turns))
        return reply

    def _given_source(self, path: str) -> np.ndarray:
        """The picture given for an insert from ``path`` (by file name); KeyError if none was."""
        return (self.sources or {})[PurePath(path).name]

    def _path(self, given: str, what: str, output: bool = False) -> Path:
        if self.scope is None:
            return Path(given).expanduser()
        return self.scope.output(given, what) if output else self.scope.path(given, what)

    def antecedent(self) -> Antecedent | None:
        """What the next instruction may refer back to: the last operation when it names an object
        or moves the camera (so "a bit more" repeats it), else the last object named; before any
        edit, the one object that has a mask, if only one has."""
        plan = self.turn.plan
        last = plan.operations[-1] if plan is not None else None
        if isinstance(last, Pan) or getattr(last, "target", None) is not None:
            return last
        if self.turn.target is None and len(self.turn.masks) == 1:
            return Target(phrase=next(iter(self.turn.masks)))
        return self.turn.target

    def _repeat(self, text: str, progress: ProgressCallback | None) -> Reply:
        if self.turn.plan is None:
            return Reply("nothing to repeat yet: type an edit first", "info", self.current)
        return self._edit(text, None, progress, self.turn.plan)

    def _choose(self, choice: Choice, progress: ProgressCallback | None) -> Reply:
        if choice.bind is not None and choice.mask is not None:
            self.set_mask(choice.bind, choice.mask)
        return self._edit(choice.instruction, choice.previous, progress)

    def _edit(
        self,
        instruction: str,
        previous: Antecedent | None,
        progress: ProgressCallback | None,
        plan: EditPlan | None = None,
    ) -> Reply:
        """Carry out ``instruction`` (or ``plan``, recorded under the words ``instruction``)."""
        turn = self.turn
        previous = previous or self.antecedent()
        agent = EditAgent(
            self.planner,
            NamedMasks(turn.masks, fallback=self.finder),
            self.engine,
            MasksThenDetection(NamedMasks(turn.masks), self.detector),
            scope=self.scope,
            resolution=self.resolution,
            sources=self._given_source,
            refine_mask=self.refine_mask,
        )

        def plan_words(text: str, before: Antecedent | None) -> EditPlan:
            return agent.plan(turn.image, text, before)

        given_plan = plan is None and instruction.lstrip().startswith("{")  # plan JSON, as `edit` takes
        if given_plan:
            plan = EditPlan.parse(instruction)
        try:
            outcome = agent.run(turn.image, plan or instruction, previous, progress)
        except UnsupportedEditError as exc:
            if exc.supported is None:
                raise
            text = f'I can\'t do "{exc.clause}": {exc.reason}. Shall I just {exc.supported}? (yes/no)'
            try:
                shown = first_object(plan_words, exc.supported, turn.masks, previous)
            except PlannerError:
                shown = None
            question = Question(text, [Choice(f"only: {exc.supported}", exc.supported, mask=shown)])
            return Reply(question.text, "question", self.current, self.planner_name, question)
        except PlannerError as exc:
            retry = follow_up(instruction, previous)
            try:
                if retry is None:
                    raise exc
                outcome = agent.run(turn.image, retry, previous, progress)
            except PlannerError:
                question = question_after_planner_error(
                    instruction, exc, plan_words, turn.masks, previous,
                )  # fmt: skip
                if question is None:
                    raise exc from None
                return Reply(question.text, "question", self.current, self.planner_name, question)
        if outcome.result is None:
            question = question_after_grounding(instruction, outcome, turn.image[..., :3], self.finder)
            return Reply(question.text, "question", self.current, self.planner_name, question)
        new = Turn(
            image=outcome.result.image,
            masks=masks_after_edit(turn.masks, outcome.result),
            instruction=outcome.plan.summary() if given_plan else instruction,
            plan=outcome.plan,
            target=last_target(outcome.plan) or turn.target,
            result=outcome.result,
        )
        if self.current + 1 < len(self.turns):
            # Forget the undone turns on disk before their turn numbers are reused.
            del self.turns[self.current + 1 :]
            self.save(written=len(self.turns))
        self.turns.append(new)
        self.current += 1
        self.refine_mask = None  # it marked the picture before this edit
        self.save(written=self.current)
        revised = " (revised after looking again)" if outcome.revised else ""
        return Reply(
            f"done{revised}: {outcome.plan.summary()} [turn {self.current}]", "edit", self.current,
            self.planner_name,
        )  # fmt: skip

    def undo(self) -> Reply:
        if self.current == 0:
            return Reply("nothing to undo", "info", self.current)
        undone = self.turn.instruction
        self.current -= 1
        return Reply(f"undone: {undone} [turn {self.current}]", "info", self.current)

    def redo(self) -> Reply:
        if self.current + 1 >= len(self.turns):
            return Reply("nothing to redo", "info", self.current)
        self.current += 1
        return Reply(f"redone: {self.turn.instruction} [turn {self.current}]", "info", self.current)

    def history(self) -> str:
        lines = []
        for number, turn in enumerate(self.turns):
            marker = "*" if number == self.current else " "
            what = "original picture" if turn.instruction is None else turn.instruction
            lines.append(f"{marker} {number}: {what}")
        return "\n".join(lines)

    def save_image(self, path: Path, overwrite: bool = False) -> str:
        check_writable(claim_output(path, overwrite=overwrite, what="save path"))
        save_image(self.turn.image, path)
        return f"saved {path}"

    def add_mask(self, name: str, path: str) -> str:
        size = (self.turn.image.shape[1], self.turn.image.shape[0])
        return self.set_mask(name, load_mask(path, size))

    def set_mask(self, name: str, mask: np.ndarray) -> str:
        """Name an object of the current picture by its mask (white = object)."""
        self.set_masks({name: mask})
        return f"mask '{name.strip().lower()}' added to turn {self.current}"

    def set_masks(self, masks: dict[str, np.ndarray], replace: bool = False) -> None:
        """Add (or with ``replace``, set exactly) the named masks of the current picture, in one step."""
        height, width = self.turn.image.shape[:2]
        named = {} if replace else dict(self.turn.masks)
        for name, mask in masks.items():
            key = name.strip().lower()
            if not key:
                raise SessionError("a mask needs a name, e.g. 'boy'")
            if mask.shape != (height, width):
                raise SessionError(
                    f"mask {key!r} is {mask.shape[1]}x{mask.shape[0]} but the picture is {width}x{height}"
                )
            named[key] = mask
        self.turn.masks = named  # one assignment: a reader never sees half of the change
        self.save(written=self.current)


def planner_name(planner: Planner) -> str:
    """The planner's name as shown next to each reply: rules, or llm and the model's name."""
    model = getattr(planner, "model", None)
    if model is None:
        return "rules"
    name = getattr(model, "model_name", None) or getattr(model, "model", None)
    return f"llm {name if isinstance(name, str) else type(model).__name__}"


def run_chat(session: ChatSession, lines: Iterable[str], reply: Callable[[str], None]) -> None:
    """Feed lines to the session until ``quit`` or the input ends; a failed turn changes nothing."""
    for line in lines:
        try:
            with speaking(CHAT):
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
    engine: Engine,
    llm: PlannerOptions | str | None,
    finder: MaskResolver | None = None,
    root: Path | None = None,
    resolution: ResolutionParams | None = None,
) -> None:
    """The ``layeredit chat`` command: a terminal (or scripted, line by line) chat on stdin.

    ``finder`` finds objects named without a mask (default: the detection models, when present);
    ``root`` is the only folder 'save', 'mask' and insert sources may use (default: the current one);
    ``resolution`` says how photos larger than the engine's working size are edited.
    """
    from layeredit.agent.llm import make_planner

    planner = make_planner(llm)
    if resume is not None:
        session = ChatSession.resume(resume, planner, engine, masks)
    else:
        assert image is not None
        folder = session_dir or default_session_dir(image)
        session = ChatSession.start(image, folder, planner, engine, masks)

    session.finder = finder or AutomaticResolver()
    if not session.finder.missing_models():
        session.detector = session.finder
    session.scope = FileScope(root or Path.cwd())
    session.resolution = resolution

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
