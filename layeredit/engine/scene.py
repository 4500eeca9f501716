"""Compile an edit plan on a layer stack into a :class:`Scene` every engine can render.

A scene is what DesignEdit's layered decomposition produces: a background picture with a hole
to paint, and object layers (each a full-canvas picture with an object mask, already resized or
flipped at image level) that are pasted in z-order at whole-pixel offsets. The pixel engine paints
the hole with OpenCV and alpha-composites; the diffusion engine inverts each distinct picture,
inpaints the background by key-masked attention and fuses shifted layer latents.

Operations apply in plan order. An object stays part of the background until an operation touches
it; then it is cut out (its dilated footprint joins the hole) and becomes a layer on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from layeredit.engine import placement
from layeredit.engine.layers import LayerStack
from layeredit.errors import PlacementError
from layeredit.plan import (
    Beside,
    Duplicate,
    EditPlan,
    Flip,
    Insert,
    Move,
    Operation,
    Pan,
    Point,
    Remove,
    Reorder,
    Resize,
    Swap,
    Target,
    ZoomOut,
)
from layeredit.tools.masks import (
    ROLE_DILATION_AT_1024,
    bbox,
    centroid,
    dilate,
    feather_reach,
    scaled_px,
    shift,
)


@dataclass(frozen=True)
class SceneParams:
    """Mask growth and gaps, in pixels of a 1024x1024 image (scaled to the real size) or fractions of
    the width; docs/method.md, "Layers", says what each one grows."""

    hole_dilation: float = field(
        default=ROLE_DILATION_AT_1024["hole"],
        metadata={"help": "Growth of a removed or moved object's hole, px at 1024."},
    )
    object_dilation: float = field(
        default=ROLE_DILATION_AT_1024["object"],
        metadata={"help": "Growth of an object layer's mask, px at 1024."},
    )
    border_dilation: float = field(
        default=ROLE_DILATION_AT_1024["border"],
        metadata={"help": "Growth of the new strip of a pan or border of a zoom-out, px at 1024."},
    )
    feather: float = field(default=6.0, metadata={"help": "Soft edge of pasted layers, px at 1024."})
    duplicate_gap: float = field(
        default=0.03, metadata={"help": "Gap between a copy placed beside its original, of the width."}
    )
    beside_gap: float = field(
        default=0.02,
        metadata={"help": "Gap beside an anchor object, of the width (of the height above/below)."},
    )


@dataclass
class Layer:
    name: str  # the target key it came from
    image: np.ndarray  # H x W x 3 uint8 picture the layer's pixels come from
    mask: np.ndarray  # H x W bool, the object in ``image`` (not dilated)
    offset: tuple[int, int] = (0, 0)  # whole-pixel (dx, dy) applied when pasting
    cut: bool = False  # True once it is a separate layer (drawn on top of the background)

    def placed_mask(self) -> np.ndarray:
        """The object's mask where it ends up on the canvas (cropped at the frame)."""
        return shift(self.mask, *self.offset)

    def placed_center(self) -> tuple[float, float]:
        x, y = centroid(self.mask)
        return x + self.offset[0], y + self.offset[1]


@dataclass
class Scene:
    source: np.ndarray  # the input picture
    background: np.ndarray  # picture behind the layers (the source, or its panned/zoomed copy)
    hole: np.ndarray  # H x W bool, background pixels to paint
    layers: list[Layer]  # bottom to top; only cut layers are drawn
    params: SceneParams = field(default_factory=SceneParams)
    refine: np.ndarray | None = None  # H x W bool, joins the key mask early on (artifact suppression)
    # (height, width) of the whole photo at this scene's scale when the scene is a window of it
    # (layeredit/engine/window.py): sizes "at 1024" stay those of the photo, not of the window.
    frame_shape: tuple[int, int] | None = None

    def px(self, size_at_1024: float) -> int:
        return scaled_px(size_at_1024, self.frame_shape or self.source.shape)

    @property
    def drawn(self) -> list[Layer]:
        return [layer for layer in self.layers if layer.cut]

    def edited_region(self) -> np.ndarray:
        """Every pixel an engine may change: the hole and the pasted layers with their soft edges."""
        region = self.hole.copy()
        reach = feather_reach(self.px(self.params.feather))
        for layer in self.drawn:
            # As pasting does: grow, shift, then feather. A part pushed out of the frame still
            # leaves its grown edge inside it, and an object cut at the frame's edge is feathered
            # past that edge once it has moved in.
            grown = shift(dilate(layer.mask, self.px(self.params.object_dilation)), *layer.offset)
            region |= dilate(grown, reach)
        return region


def compile_scene(stack: LayerStack, plan: EditPlan, params: SceneParams | None = None) -> Scene:
    params = params or SceneParams()
    builder = _SceneBuilder(stack, params)
    for op in plan.operations:
        builder.apply(op)
    return builder.scene


class _SceneBuilder:
    def __init__(self, stack: LayerStack, params: SceneParams):
        self.stack = stack
        self.width, self.height = stack.size
        self.scene = Scene(
            source=stack.image,
            background=stack.image.copy(),
            hole=np.zeros(stack.image.shape[:2], dtype=bool),
            layers=[],
            params=params,
            refine=stack.refine_mask,
        )
        self.by_target: dict[str, list[Layer]] = {
            key: [Layer(name=key, image=stack.image, mask=m) for m in masks if m.any()]
            for key, masks in stack.objects.items()
        }

    # -- helpers -----------------------------------------------------------------------------

    def layers(self, target: Target) -> list[Layer]:
        return self.by_target.get(target.key, [])

    def cut(self, layer: Layer, make_hole: bool = True) -> None:
        """Separate an object from the background, on top of the layers cut so far."""
        if layer.cut:
            return
        if make_hole:
            self.scene.hole |= dilate(layer.placed_mask(), self.scene.px(self.scene.params.hole_dilation))
        layer.cut = True
        self.scene.layers.append(layer)

    def translate(self, layers: list[Layer], dx: float, dy: float) -> None:
        for layer in layers:
            layer.offset = (layer.offset[0] + round(dx), layer.offset[1] + round(dy))

    def group_center(self, layers: list[Layer]) -> tuple[float, float]:
        return centroid(np.logical_or.reduce([layer.placed_mask() for layer in layers]))

    def offset_to(self, layers: list[Layer], point: Point) -> tuple[float, float]:
        """Displacement taking the group's centre to ``point``, kept so the group stays in frame."""
        union = np.logical_or.reduce([shift(layer.mask, *layer.offset) for layer in layers])
        cx, cy = centroid(union)
        x0, y0, x1, y1 = bbox(union)
        tx = _clamp(point.x * self.width, cx - x0, self.width - (x1 - cx))
        ty = _clamp(point.y * self.height, cy - y0, self.height - (y1 - cy))
        return tx - cx, ty - cy

    def place(self, layers: list[Layer], op: Move | Insert) -> None:
        """Move the group by the op's (dx, dy), so that its centre lands on the op's ``to``, or
        relative to another object."""
        if op.to is not None:
            dx, dy = self.offset_to(layers, op.to)
        elif isinstance(op, Move) and op.beside is not None:
            dx, dy = self.beside_anchor(layers, op.target, op.beside)
        elif isinstance(op, Move) and op.toward is not None:
            dx, dy = self.toward_anchor(layers, op)
        else:
            dx, dy = op.dx * self.width, op.dy * self.height
        self.translate(layers, dx, dy)

    def box(self, layers: list[Layer]) -> placement.Box:
        return placement.Box(*bbox(np.logical_or.reduce([layer.placed_mask() for layer in layers])))

    def anchor_box(self, anchor: Target) -> placement.Box:
        layers = self.layers(anchor)
        if not layers:
            raise PlacementError(f"the '{anchor.phrase}' to place against was removed earlier in the plan")
        return self.box(layers)

    def beside_anchor(self, layers: list[Layer], target: Target, beside: Beside) -> tuple[float, float]:
        obj, anchor = self.box(layers), self.anchor_box(beside.anchor)
        names = (target.phrase, beside.anchor.phrase)
        frame = (self.width, self.height)
        return placement.beside_offset(obj, anchor, beside.side, frame, self.scene.params.beside_gap, names)

    def toward_anchor(self, layers: list[Layer], op: Move) -> tuple[float, float]:
        assert op.toward is not None
        obj, anchor = self.box(layers), self.anchor_box(op.toward)
        names = (op.target.phrase, op.toward.phrase)
        frame = (self.width, self.height)
        return placement.toward_offset(obj, anchor, op.amount, frame, self.scene.params.beside_gap, names)

    def warp(self, layer: Layer, matrix: np.ndarray) -> None:
        """Apply an image-level affine transform to a layer's picture and mask."""
        size = (self.width, self.height)
        layer.image = cv2.warpAffine(
            layer.image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        layer.mask = (
            cv2.warpAffine(layer.mask.astype(np.uint8) * 255, matrix, size, flags=cv2.INTER_LINEAR) > 127
        )

    def scale_about_centroid(self, layer: Layer, scale: float) -> None:
        cx, cy = centroid(layer.mask)
        self.warp(layer, np.array([[scale, 0, cx * (1 - scale)], [0, scale, cy * (1 - scale)]]))

    def every_layer(self) -> list[Layer]:
        """Drawn layers and those still part of the background, each once."""
        found = {id(layer): layer for layer in self.scene.layers}
        for group in self.by_target.values():
            found.update({id(layer): layer for layer in group})
        return list(found.values())

    # -- operations --------------------------------------------------------------------------

    def apply(self, op: Operation) -> None:
        handler = getattr(self, f"_{op.op}")
        handler(op)

    def _move(self, op: Move) -> None:
        layers = self.layers(op.target)
        if not layers:
            return
        for layer in layers:
            self.cut(layer)
        self.place(layers, op)

    def _remove(self, op: Remove) -> None:
        for layer in self.layers(op.target):
            self.cut(layer)
            self.scene.layers.remove(layer)
        self.by_target[op.target.key] = []

    def _resize(self, op: Resize) -> None:
        layers = self.layers(op.target)
        if not layers:
            return
        scale = op.scale
        if op.like is not None:
            scale = placement.matching_scale(self.box(layers), self.anchor_box(op.like))
        for layer in layers:
            self.cut(layer)
            self.scale_about_centroid(layer, scale)

    def _flip(self, op: Flip) -> None:
        for layer in self.layers(op.target):
            self.cut(layer)
            cx, cy = centroid(layer.mask)
            # Mirroring about a whole or half pixel maps pixels onto pixels, so flipping twice is exact.
            if op.axis == "horizontal":
                matrix = np.array([[-1.0, 0, round(2 * cx)], [0, 1.0, 0]])
            else:
                matrix = np.array([[1.0, 0, 0], [0, -1.0, round(2 * cy)]])
            self.warp(layer, matrix)

    def _duplicate(self, op: Duplicate) -> None:
        originals = self.layers(op.target)
        if not originals:
            return
        copies = [replace(layer, cut=False) for layer in originals]
        if op.beside is not None:
            dx, dy = self.beside_anchor(copies, op.target, op.beside)
        elif op.dx or op.dy:
            dx, dy = op.dx * self.width, op.dy * self.height
        else:
            dx, dy = self.beside(copies), 0.0
        for copy in copies:
            self.cut(copy, make_hole=False)
        self.translate(copies, dx, dy)

    def beside(self, layers: list[Layer]) -> float:
        """Horizontal offset putting a copy next to the original, on the side with more room."""
        union = np.logical_or.reduce([layer.placed_mask() for layer in layers])
        x0, _, x1, _ = bbox(union)
        step = (x1 - x0) + self.scene.params.duplicate_gap * self.width
        return step if self.width - x1 >= x0 else -step

    def _swap(self, op: Swap) -> None:
        first, second = self.layers(op.target), self.layers(op.other)
        if not first or not second:
            return
        (ax, ay), (bx, by) = self.group_center(first), self.group_center(second)
        for layer in first + second:
            self.cut(layer)
        self.translate(first, bx - ax, by - ay)
        self.translate(second, ax - bx, ay - by)

    def _reorder(self, op: Reorder) -> None:
        layers = self.layers(op.target)
        for layer in layers:
            # In place it covers its own footprint exactly, so nothing needs painting.
            self.cut(layer, make_hole=False)
            self.scene.layers.remove(layer)
        if op.position == "front":
            self.scene.layers.extend(layers)
        else:
            self.scene.layers[:0] = layers

    def _insert(self, op: Insert) -> None:
        foreign = self.stack.foreign[(op.source, op.target.key)]
        layers = [
            Layer(name=f"{op.target.key} from {op.source}", image=foreign.image, mask=m)
            for m in foreign.masks
            if m.any()
        ]
        if not layers:
            return
        for layer in layers:
            if op.scale != 1.0:
                self.scale_about_centroid(layer, op.scale)
            self.cut(layer, make_hole=False)
        self.place(layers, op)

    def _pan(self, op: Pan) -> None:
        dx, dy = pan_shift(op, (self.width, self.height))
        scene = self.scene
        moved = shift(scene.background, dx, dy)
        inside = shift(np.ones_like(scene.hole), dx, dy)
        scene.background = np.where(inside[..., None], moved, scene.background)
        border = dilate(~inside, scene.px(scene.params.border_dilation))
        scene.hole = shift(scene.hole, dx, dy) | border
        if scene.refine is not None:
            scene.refine = shift(scene.refine, dx, dy)
        for layer in self.every_layer():
            if layer.cut:
                self.translate([layer], dx, dy)
            else:
                layer.image, layer.mask = scene.background, shift(layer.mask, dx, dy)

    def _zoom_out(self, op: ZoomOut) -> None:
        scene = self.scene
        matrix = zoom_matrix(op, (self.width, self.height))
        (sx, _, x0), (_, sy, y0) = matrix
        x0, y0 = int(x0), int(y0)
        new_w, new_h = max(1, round(op.scale * self.width)), max(1, round(op.scale * self.height))
        shrunk = cv2.resize(scene.background, (new_w, new_h), interpolation=cv2.INTER_AREA)
        scene.background = scene.background.copy()
        scene.background[y0 : y0 + new_h, x0 : x0 + new_w] = shrunk
        inside = np.zeros_like(scene.hole)
        inside[y0 : y0 + new_h, x0 : x0 + new_w] = True
        old_hole = cv2.warpAffine(scene.hole.astype(np.uint8) * 255, matrix, (self.width, self.height)) > 127
        scene.hole = old_hole | dilate(~inside, scene.px(scene.params.border_dilation))
        if scene.refine is not None:
            scene.refine = (
                cv2.warpAffine(scene.refine.astype(np.uint8) * 255, matrix, (self.width, self.height)) > 127
            )
        for layer in self.every_layer():
            self.warp(layer, matrix)
            layer.offset = (round(layer.offset[0] * sx), round(layer.offset[1] * sy))
            if not layer.cut:
                layer.image = scene.background


def pan_shift(op: Pan, size: tuple[int, int]) -> tuple[int, int]:
    """Whole pixels the content slides by when the camera pans: moving right shows more of the
    right, so the content slides left."""
    width, height = size
    return -round(op.dx * width), -round(op.dy * height)


def zoom_matrix(op: ZoomOut, size: tuple[int, int]) -> np.ndarray:
    """The 2 x 3 affine map of a zoom-out: the content shrinks to ``op.scale`` about the centre."""
    width, height = size
    new_w, new_h = max(1, round(op.scale * width)), max(1, round(op.scale * height))
    x0, y0 = (width - new_w) // 2, (height - new_h) // 2
    return np.array([[new_w / width, 0, x0], [0, new_h / height, y0]])


def follow_camera(mask: np.ndarray, plan: EditPlan) -> np.ndarray:
    """``mask`` moved as the plan's pans and zoom-outs move the picture's content."""
    size = (mask.shape[1], mask.shape[0])
    for op in plan.operations:
        if isinstance(op, Pan):
            mask = shift(mask, *pan_shift(op, size))
        elif isinstance(op, ZoomOut):
            mask = cv2.warpAffine(mask.astype(np.uint8) * 255, zoom_matrix(op, size), size) > 127
    return mask


def _clamp(value: float, low: float, high: float) -> float:
    return low if high < low else min(max(value, low), high)
