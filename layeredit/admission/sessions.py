"""The model of a chat session's ``session.json``: bounded counts and texts, and file names that
stay inside the session folder. The session store turns a valid record into pictures and plans."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from layeredit.admission.documents import MAX_ITEMS, MAX_TEXT, Name
from layeredit.admission.scenes import FileName

SESSION_FORMAT = 1
MAX_TURNS = 10_000
MAX_LOG = 100_000  # messages of one conversation


class TurnRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    image: FileName
    masks: dict[Name, FileName] = Field(default_factory=dict, max_length=MAX_ITEMS)
    instruction: str | None = Field(default=None, max_length=MAX_TEXT)
    plan: dict[str, Any] | None = None  # checked by EditPlan.parse
    target: dict[str, Any] | None = None  # checked by Target.model_validate


class ChoiceRecord(BaseModel):
    model_config = ConfigDict(extra="allow")  # the choice's own fields are read by Choice.from_json

    mask: FileName | None = None


class QuestionRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: str = Field(max_length=MAX_TEXT)
    choices: list[ChoiceRecord] = Field(max_length=64)
    missing: list[Name] = Field(default_factory=list, max_length=64)  # objects to mark (the web button)


class SessionRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    format: int = Field(ge=SESSION_FORMAT, le=SESSION_FORMAT)
    current: int = Field(ge=0, lt=MAX_TURNS)
    turns: list[TurnRecord] = Field(min_length=1, max_length=MAX_TURNS)
    log: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_LOG)
    question: QuestionRecord | None = None

    @model_validator(mode="after")
    def _current_is_a_turn(self) -> SessionRecord:
        if self.current >= len(self.turns):
            raise ValueError(f"current turn {self.current} of {len(self.turns)}")
        return self
