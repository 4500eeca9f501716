"""``OUTDIR/results.jsonl``: one record per manifest line, the memory that lets a run resume.

Only the coordinating process writes it. Each record is appended with one write and flushed to
disk before the next line is reported, so a run killed at any moment leaves every finished line
recorded (at worst a torn last line, which is ignored and redone).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from layeredit.imageio import write_atomically

RESULTS_NAME = "results.jsonl"
Status = Literal["ok", "error", "skipped"]


@dataclass
class LineResult:
    """How one manifest line went: ``skipped`` means done by an earlier run with the same inputs."""

    line: int
    status: Status
    output: str | None = None  # relative to the output folder
    error: str | None = None
    plan: dict[str, Any] | None = None
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    key: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status != "error"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> LineResult:
        return cls(**json.loads(text))


class Ledger:
    def __init__(self, out_dir: Path):
        self.path = out_dir / RESULTS_NAME

    def finished(self) -> dict[str, LineResult]:
        """Lines done by earlier runs whose output is still there, by their key."""
        done: dict[str, LineResult] = {}
        if not self.path.is_file():
            return done
        for text in self.path.read_text(encoding="utf-8").splitlines():
            try:
                result = LineResult.from_json(text)
            except (ValueError, TypeError):
                continue  # the torn last line of a killed run
            if (
                result.succeeded
                and result.key
                and result.output
                and (self.path.parent / result.output).is_file()
            ):
                done[result.key] = result
        return done

    def restart(self, carried: list[LineResult]) -> None:
        """Start this run's records with the lines carried over from earlier runs."""
        text = "".join(result.to_json() + "\n" for result in carried)
        write_atomically(self.path, lambda handle: handle.write(text.encode()))

    def append(self, result: LineResult) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(result.to_json() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
