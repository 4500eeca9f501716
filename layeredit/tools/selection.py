"""Pick which of several matches a target means ("the cat on the left", "all the balls")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from layeredit.errors import LayereditError
from layeredit.plan import Target


class SelectionError(LayereditError, ValueError):
    """The target's selection cannot be satisfied by the matches found."""


@dataclass(frozen=True)
class Candidate:
    """One match of a phrase: its box (x0, y0, x1, y1), area in pixels and confidence."""

    box: tuple[float, float, float, float]
    area: float
    score: float = 1.0

    @property
    def center(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2, (y0 + y1) / 2


def select_candidates(candidates: Sequence[Candidate], target: Target) -> list[int]:
    """Indices into ``candidates`` that ``target.select`` picks, in left-to-right order.

    No selection means the best-scoring match; ``index`` counts matches left to right from 0, and
    from the right when negative (-1 is the rightmost).
    """
    if not candidates:
        return []
    order = sorted(range(len(candidates)), key=lambda i: candidates[i].center[0])
    select = target.select
    if select is None:
        return [max(order, key=lambda i: candidates[i].score)]
    if select == "all":
        return order
    if select == "index":
        assert target.index is not None  # guaranteed by Target's validator
        if not -len(order) <= target.index < len(order):
            side, number = ("left", target.index + 1) if target.index >= 0 else ("right", -target.index)
            raise SelectionError(
                f"'{target.phrase}' number {number} from the {side} was asked for, "
                f"but only {len(order)} found"
            )
        return [order[target.index]]
    pick = {
        "largest": lambda i: candidates[i].area,
        "smallest": lambda i: -candidates[i].area,
        "leftmost": lambda i: -candidates[i].center[0],
        "rightmost": lambda i: candidates[i].center[0],
        "topmost": lambda i: -candidates[i].center[1],
        "bottommost": lambda i: candidates[i].center[1],
    }[select]
    return [max(order, key=pick)]
