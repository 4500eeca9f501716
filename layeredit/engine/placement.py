"""Placement relative to another object: where ``beside``, ``toward`` and ``like`` put
an object, worked out from the bounding boxes of both objects' masks.

- ``beside`` left/right: the object's box touches the anchor's box with a gap and their bottoms
  align (things stand on the same ground); above/below: the gap is vertical and their centres align
  horizontally. Without a side, the anchor's left or right side, whichever is nearer the object.
- ``toward``: the object slides along the line between the two centres; ``amount`` is the fraction
  of the way to where it would touch the anchor (with the gap).
- ``like``: the scale that gives the object the anchor's box height.

Every result is clamped inside the frame; a ``beside`` that cannot fit raises
:class:`~layeredit.errors.PlacementError` saying so.
"""

from __future__ import annotations

from dataclasses import dataclass

from layeredit.errors import PlacementError

TOWARD_DEFAULT = 0.5  # an unspecified "closer": half of the gap


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels, ``x1``/``y1`` exclusive (as :func:`layeredit.tools.masks.bbox`)."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def center(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2

    def shifted(self, dx: float, dy: float) -> Box:
        return Box(self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy)


def nearer_side(obj: Box, anchor: Box) -> str:
    """The anchor's left or right side, whichever the object's centre is on."""
    return "left" if obj.center[0] < anchor.center[0] else "right"


def beside_offset(
    obj: Box, anchor: Box, side: str | None, frame: tuple[int, int], gap: float, names: tuple[str, str]
) -> tuple[float, float]:
    """(dx, dy) in pixels putting ``obj`` on ``side`` of ``anchor``; ``gap`` is a fraction of the
    image width (left/right) or height (above/below). ``names`` (object, anchor) word the error."""
    side = side or nearer_side(obj, anchor)
    width, height = frame
    if side in ("left", "right"):
        space = gap * width
        x0 = anchor.x0 - space - obj.width if side == "left" else anchor.x1 + space
        dx, dy = x0 - obj.x0, anchor.y1 - obj.y1
    else:
        space = gap * height
        y0 = anchor.y0 - space - obj.height if side == "above" else anchor.y1 + space
        dx, dy = anchor.center[0] - obj.center[0], y0 - obj.y0
    dx, dy = _clamp_in_frame(obj, dx, dy, frame)
    placed = obj.shifted(dx, dy)
    overlap = {
        "left": placed.x1 - anchor.x0,
        "right": anchor.x1 - placed.x0,
        "above": placed.y1 - anchor.y0,
        "below": anchor.y1 - placed.y0,
    }[side]
    if overlap > 0.5:
        free = {
            "left": anchor.x0, "right": width - anchor.x1, "above": anchor.y0, "below": height - anchor.y1
        }
        size, unit = (obj.width, "wide") if side in ("left", "right") else (obj.height, "tall")
        where = f"to the {side} of" if side in ("left", "right") else f"{side}"
        raise PlacementError(
            f"the {names[0]} does not fit {where} the {names[1]}: it is {size:.0f} px {unit} and only "
            f"{max(free[side], 0):.0f} px are free there; choose another side or make it smaller first"
        )
    return dx, dy


def toward_offset(
    obj: Box, anchor: Box, amount: float | None, frame: tuple[int, int], gap: float, names: tuple[str, str]
) -> tuple[float, float]:
    """(dx, dy) moving ``obj`` ``amount`` of the way, along the line between the centres, to where
    it would touch ``anchor`` (with ``gap``, a fraction of the image width)."""
    (ox, oy), (ax, ay) = obj.center, anchor.center
    vx, vy = ax - ox, ay - oy
    space = gap * frame[0]
    grown = Box(anchor.x0 - space, anchor.y0 - space, anchor.x1 + space, anchor.y1 + space)
    entry = max(
        _entry_time(obj.x0, obj.x1, vx, grown.x0, grown.x1),
        _entry_time(obj.y0, obj.y1, vy, grown.y0, grown.y1),
    )
    if entry <= 0:
        raise PlacementError(f"the {names[0]} already touches the {names[1]}; there is no gap to close")
    fraction = TOWARD_DEFAULT if amount is None else amount
    return _clamp_in_frame(obj, fraction * entry * vx, fraction * entry * vy, frame)


def matching_scale(obj: Box, anchor: Box) -> float:
    """The scale giving ``obj`` the box height of ``anchor``."""
    return anchor.height / obj.height


def _entry_time(low: float, high: float, velocity: float, other_low: float, other_high: float) -> float:
    """When [low, high] moving at ``velocity`` first overlaps [other_low, other_high] (0 if it does now)."""
    if high > other_low and low < other_high:
        return 0.0
    if velocity == 0:
        return float("inf")
    return (other_low - high) / velocity if velocity > 0 else (other_high - low) / velocity


def _clamp_in_frame(obj: Box, dx: float, dy: float, frame: tuple[int, int]) -> tuple[float, float]:
    width, height = frame
    dx = min(max(dx, -obj.x0), width - obj.x1) if obj.width <= width else dx
    dy = min(max(dy, -obj.y0), height - obj.y1) if obj.height <= height else dy
    return dx, dy
