"""A chat session's state on disk: one folder that survives a crash and can be resumed.

Layout::

    session.json            turns (instruction, plan, files) and which turn is current
    turns/0000/image.png    the original picture (lossless, so repeated edits do not degrade)
    turns/0000/mask_boy.png the masks as they are in that turn's picture
    turns/0001/...
    question/choice_0.png   the masks shown with the answers of a pending question

``session.json`` also keeps the conversation (what was said, and which planner answered) and
the question waiting for an answer, so a web page reloaded or a server restarted shows them again.

Files of a turn are written before ``session.json`` names them, and every write is atomic, so a
session killed at any moment resumes at its last complete turn.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from layeredit.admission.documents import load_json, validate
from layeredit.admission.names import safe_stem
from layeredit.admission.sessions import SESSION_FORMAT, SessionRecord
from layeredit.agent.questions import Choice, Question
from layeredit.engine.base import EditResult
from layeredit.errors import LayereditError, clip
from layeredit.imageio import load_image, save_image, write_atomically
from layeredit.plan import EditPlan, Target
from layeredit.tools.masks import load_mask

SESSION_FILE = "session.json"


class SessionError(LayereditError, ValueError):
    """A session folder that cannot be created or resumed; the message says why."""


@dataclass
class Turn:
    image: np.ndarray
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    instruction: str | None = None  # None for the original picture
    plan: EditPlan | None = None
    target: Target | None = None  # what "it" means in the next instruction
    # The edit with its layers, kept in memory only (a resumed session has none): layer downloads.
    result: EditResult | None = None


@dataclass
class SavedSession:
    turns: list[Turn]
    current: int
    log: list[dict[str, Any]] = field(default_factory=list)  # the messages, oldest first
    question: Question | None = None  # waiting for an answer


class SessionStore:
    def __init__(self, folder: Path):
        self.folder = folder

    @classmethod
    def create(cls, folder: Path) -> SessionStore:
        if (folder / SESSION_FILE).exists():
            raise SessionError(f"{folder} already holds a chat session; continue it with --resume {folder}")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SessionError(f"cannot create the session folder {folder}: {exc.strerror}") from None
        return cls(folder)

    def load(self) -> SavedSession:
        """The turns, the index of the current one, and the conversation."""
        path = self.folder / SESSION_FILE
        if not path.is_file():
            raise SessionError(f"no chat session in {self.folder} ({SESSION_FILE} is missing)")
        data = load_json(path.read_bytes(), f"{path} is damaged: it", SessionError)
        record = validate(SessionRecord, data, f"{path} is damaged", SessionError)
        try:
            turns = [self._read_turn(entry.model_dump()) for entry in record.turns]
            current = turns[record.current].image
            saved = SavedSession(
                turns=turns,
                current=record.current,
                log=record.log,
                question=self._read_question(
                    None if record.question is None else record.question.model_dump(),
                    (current.shape[1], current.shape[0]),
                ),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            if isinstance(exc, LayereditError):
                raise
            raise SessionError(f"{path} is damaged ({type(exc).__name__}: {clip(str(exc))})") from None
        return saved

    def save(
        self,
        turns: list[Turn],
        current: int,
        written: int,
        log: list[dict[str, Any]] | None = None,
        question: Question | None = None,
    ) -> None:
        """Persist after a change; turns from ``written`` on are new and their files are written first."""
        for number in range(written, len(turns)):
            self._write_turn_files(number, turns[number])
        data = {
            "format": SESSION_FORMAT,
            "current": current,
            "turns": [self._entry(n, t) for n, t in enumerate(turns)],
            "log": log or [],
            "question": self._write_question(question),
        }
        text = json.dumps(data, indent=2).encode()
        write_atomically(self.folder / SESSION_FILE, lambda handle: handle.write(text))
        self._drop_turn_folders_from(len(turns))

    def _turn_folder(self, number: int) -> Path:
        return self.folder / "turns" / f"{number:04d}"

    def _write_turn_files(self, number: int, turn: Turn) -> None:
        folder = self._turn_folder(number)
        folder.mkdir(parents=True, exist_ok=True)
        save_image(turn.image, folder / "image.png")
        for name, mask in turn.masks.items():
            save_image((mask * 255).astype(np.uint8), folder / _mask_file(name))

    def _entry(self, number: int, turn: Turn) -> dict[str, Any]:
        folder = Path("turns") / f"{number:04d}"
        return {
            "instruction": turn.instruction,
            "plan": None if turn.plan is None else json.loads(turn.plan.to_json()),
            "target": None if turn.target is None else turn.target.model_dump(exclude_none=True),
            "image": str(folder / "image.png"),
            "masks": {name: str(folder / _mask_file(name)) for name in turn.masks},
        }

    def _read_turn(self, entry: dict[str, Any]) -> Turn:
        image = load_image(self._inside(entry["image"]), keep_alpha=True)
        size = (image.shape[1], image.shape[0])  # a mask of another size would fail the next edit
        return Turn(
            image=image,
            masks={name: load_mask(self._inside(path), size) for name, path in entry["masks"].items()},
            instruction=entry["instruction"],
            plan=None if entry["plan"] is None else EditPlan.parse(entry["plan"]),
            target=None if entry["target"] is None else Target.model_validate(entry["target"]),
        )

    def _inside(self, relative: str) -> Path:
        """A file the session names, which must lie in the session folder (no ``..``, links or roots)."""
        path = (self.folder / str(relative)).resolve()
        if not path.is_relative_to(self.folder.resolve()):
            raise SessionError(f"{self.folder / SESSION_FILE} is damaged (it names {clip(str(relative))!r}, "
                               "outside the session folder)")  # fmt: skip
        return path

    def _write_question(self, question: Question | None) -> dict[str, Any] | None:
        if question is None:
            return None
        choices = []
        for number, choice in enumerate(question.choices):
            entry = choice.to_json()
            if choice.mask is not None:
                entry["mask"] = f"question/choice_{number}.png"
                (self.folder / "question").mkdir(exist_ok=True)
                save_image((choice.mask * 255).astype(np.uint8), self.folder / entry["mask"])
            choices.append(entry)
        return {"text": question.text, "choices": choices, "missing": question.missing}

    def _read_question(self, data: dict[str, Any] | None, size: tuple[int, int]) -> Question | None:
        """The open question; its choices' masks are of the current picture, of ``size``."""
        if data is None:
            return None
        choices = [
            Choice.from_json(entry, self._choice_mask(entry.get("mask"), size))
            for entry in data["choices"]
        ]
        return Question(data["text"], choices, [str(name) for name in data.get("missing", [])])

    def _choice_mask(self, name: str | None, size: tuple[int, int]) -> np.ndarray | None:
        return load_mask(self._inside(name), size) if name else None

    def _drop_turn_folders_from(self, first_unused: int) -> None:
        # Turns undone and then replaced by a new edit can never be redone: their files go.
        for folder in sorted((self.folder / "turns").glob("[0-9][0-9][0-9][0-9]")):
            if int(folder.name) >= first_unused:
                shutil.rmtree(folder, ignore_errors=True)


def _mask_file(name: str) -> str:
    return f"mask_{safe_stem(name)}.png"  # "red ball" and "red_ball" get a file each
