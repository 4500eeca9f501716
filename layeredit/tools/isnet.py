"""Box → mask and click → mask with IS-Net (dichotomous image segmentation) on ONNX Runtime.

IS-Net marks the salient object of a picture. Run on a crop around a prompt it becomes "the
object here": a box gives the crop directly (the box plus a margin); a click starts from a small
square around the point and grows it while the clicked object's mask touches the crop's border.
The probability map is thresholded, cut down to the component under the prompt, and kept as the
object's soft alpha. Without a prompt the whole picture's salient components are the objects
(``decompose --auto`` without a detector).

Model file: ``isnet-general-use.onnx`` (rembg) or the ``isnet-medium.onnx`` / ``isnet-small.onnx``
builds; input ``input`` float32 [1, 3, 1024, 1024] = (RGB − 128) / 256 of the picture resized to
1024², output ``output`` [1, 1, 1024, 1024], the foreground probability 0..1.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from layeredit.errors import InputError, ModelLoadError
from layeredit.tools.defaults import MODELS_DIR_VARIABLE
from layeredit.tools.points import check_box

if TYPE_CHECKING:
    from layeredit.tools.grounding import Box

ISNET_SIDE = 1024  # the network's square input
INPUT_NAME, OUTPUT_NAME = "input", "output"
ISNET_FILES = ("isnet-medium.onnx", "isnet-small.onnx")  # looked for in that order
ISNET_HELP = (
    "get IS-Net (rembg's isnet-general-use.onnx) and save it as ~/.cache/layeredit-models/isnet-medium.onnx "
    f"(or in ${MODELS_DIR_VARIABLE}), or point at it with --isnet-model PATH"
)

THRESHOLD = 0.5  # probability at which a pixel belongs to the object
# The crop around a box: its longer side grown by this much on every side. Little context keeps
# the box's content the salient thing (bench/masks.py: 0.1 beat 0.25 on grown boxes, tied on tight).
BOX_MARGIN = 0.1
CLICK_MARGIN = 0.25  # the crop regrown around a clicked object that touched the border: its margin
CLICK_START = 0.3  # the first crop around a click: this fraction of the picture's longer side
MIN_CROP = 64  # pixels; smaller crops give the network too little context
GROWTH = 1.8  # each retry's crop side over the last one's
MAX_TRIES = 4  # network runs for one click at most
PICK_RADIUS = 0.03  # a click this close (fraction of the crop side) to a component picks it
EXTRA_PART = 0.05  # box prompts also keep parts inside the box at least this big against the main one
ALPHA_RIM = 3  # pixels of soft edge kept around the chosen component
MIN_SALIENT = 0.005  # whole-picture components smaller than this fraction of the picture are specks


@dataclass(frozen=True)
class Cutout:
    """One object: its bool H x W mask and float32 H x W alpha (the probability, 0 away from it)."""

    mask: np.ndarray
    alpha: np.ndarray


@dataclass(frozen=True)
class Crop:
    """A window of the picture, pixel edges ``x0 <= x < x1``, ``y0 <= y < y1``."""

    x0: int
    y0: int
    x1: int
    y1: int

    def covers(self, width: int, height: int) -> bool:
        return self.x0 == 0 and self.y0 == 0 and self.x1 == width and self.y1 == height


def models_dir() -> Path:
    return Path(
        os.environ.get(MODELS_DIR_VARIABLE) or Path.home() / ".cache" / "layeredit-models"
    ).expanduser()


def find_isnet_model(path: str | Path | None = None) -> Path | None:
    """``path`` when given, else the first of :data:`ISNET_FILES` in :func:`models_dir` (None if none)."""
    if path is not None:
        return Path(path).expanduser()
    return next((models_dir() / name for name in ISNET_FILES if (models_dir() / name).is_file()), None)


class IsNet:
    """The network: picture in, foreground probability out (one ONNX Runtime session per model file)."""

    def __init__(self, model: str | Path | None = None):
        path = find_isnet_model(model)
        if path is None:
            raise ModelLoadError(f"no IS-Net model in {models_dir()}: {ISNET_HELP}")
        if not path.is_file():
            raise ModelLoadError(f"IS-Net model {str(path)!r} does not exist: {ISNET_HELP}")
        from layeredit.tools.models import load_once  # torch, which this module does not need otherwise

        self.path = path
        self.session = load_once("isnet", str(path.resolve()), "onnxruntime", lambda: open_session(path))

    def probability(self, rgb: np.ndarray) -> np.ndarray:
        """Float32 H x W foreground probability of the RGB uint8 picture ``rgb``."""
        height, width = rgb.shape[:2]
        shrinking = max(height, width) > ISNET_SIDE
        square = cv2.resize(
            rgb, (ISNET_SIDE, ISNET_SIDE), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        )
        batch = ((square.astype(np.float32) - 128.0) / 256.0).transpose(2, 0, 1)[None]
        (output,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: batch})
        prob = cv2.resize(output[0, 0].astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
        return np.clip(prob, 0.0, 1.0)


def open_session(path: Path) -> Any:
    """An inference session for ``path`` whose input and output are IS-Net's; ModelLoadError else."""
    try:
        import onnxruntime
    except ImportError:
        raise ModelLoadError("IS-Net needs onnxruntime: pip install 'layeredit[segment]'") from None
    providers = [
        p
        for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
        if p in onnxruntime.get_available_providers()
    ]
    try:
        session = onnxruntime.InferenceSession(str(path), providers=providers)
    except Exception as exc:  # noqa: BLE001 - onnxruntime's load errors share no base class
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"cannot load IS-Net model {str(path)!r} ({first}): {ISNET_HELP}") from None
    inputs = {node.name: node.shape for node in session.get_inputs()}
    outputs = {node.name: node.shape for node in session.get_outputs()}
    if inputs.get(INPUT_NAME) != [1, 3, ISNET_SIDE, ISNET_SIDE] or outputs.get(OUTPUT_NAME) != [
        1,
        1,
        ISNET_SIDE,
        ISNET_SIDE,
    ]:
        raise ModelLoadError(
            f"{str(path)!r} is not an IS-Net model: expected input '{INPUT_NAME}' [1, 3, 1024, 1024] and "
            f"output '{OUTPUT_NAME}' [1, 1, 1024, 1024], found inputs {inputs} and outputs {outputs}"
        )
    return session


class IsNetSegmenter:
    """IS-Net behind both prompt APIs: :class:`~layeredit.tools.segmentation.Segmenter` (set_image,
    boxes, points) and the web editor's point segmenter (``segment_point``)."""

    name = "isnet"

    def __init__(self, model: str | Path | None = None, threshold: float = THRESHOLD):
        self.net = IsNet(model)
        self.threshold = threshold
        self._image: np.ndarray | None = None

    # Segmenter protocol -------------------------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        self._image = image

    def predict(self, boxes: Sequence[Box]) -> list[np.ndarray]:
        return [self.cut_box(self._current(), box).mask for box in boxes]

    def predict_point(self, x: float, y: float) -> np.ndarray:
        return self.cut_point(self._current(), x, y).mask

    # PointSegmenter protocol --------------------------------------------------------------------
    def segment_point(self, image: np.ndarray, x: int, y: int) -> np.ndarray:
        return self.cut_point(image, x, y).mask

    def segment_box(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        mask = self.cut_box(image, check_box(box, image.shape[1], image.shape[0])).mask
        if not mask.any():
            raise InputError(f"found no object inside the box {list(box)}; draw the box around the object")
        return mask

    # The prompts --------------------------------------------------------------------------------
    def cut_box(self, image: np.ndarray, box: Box) -> Cutout:
        """The object inside ``box`` (x0, y0, x1, y1): the part over the box's centre region, plus
        other sizeable parts wholly inside the box (letters of a word, a cup's handle)."""
        height, width = image.shape[:2]
        x0, y0, x1, y1 = (float(v) for v in box)
        if not (x1 > x0 and y1 > y0):
            raise InputError(f"box {tuple(box)} is empty: it needs x0 < x1 and y0 < y1")
        crop = box_crop(box, width, height)
        prob = self._probability(image, crop)
        inside = np.zeros((height, width), dtype=bool)
        inside[max(0, int(y0)) : int(np.ceil(y1)), max(0, int(x0)) : int(np.ceil(x1))] = True
        labels, count = label_parts((prob >= self.threshold) & inside)
        centre = centre_region(box, (height, width))
        overlap = np.bincount(labels[centre], minlength=count + 1)[1:]
        areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
        if count == 0:
            return Cutout(
                mask=np.zeros((height, width), dtype=bool), alpha=np.zeros((height, width), np.float32)
            )
        main = int(np.argmax(overlap if overlap.any() else areas)) + 1
        keep = (overlap > 0) | (np.arange(1, count + 1) == main)
        keep |= (areas >= EXTRA_PART * areas[main - 1]) & ~touches_box_edge(labels, count, box)
        return cutout(np.isin(labels, np.flatnonzero(keep) + 1), prob)

    def cut_point(self, image: np.ndarray, x: float, y: float) -> Cutout:
        """The object under pixel (x, y): the crop around the click grows until the object's mask
        stops touching its border (or covers the picture, or :data:`MAX_TRIES` runs)."""
        height, width = image.shape[:2]
        if not (0 <= x < width and 0 <= y < height):
            raise InputError(f"point ({x:g}, {y:g}) is outside the {width}x{height} image")
        side = max(MIN_CROP, CLICK_START * max(width, height))
        crop = square_crop(x, y, side, width, height)
        found: tuple[np.ndarray, np.ndarray] | None = None
        for _ in range(MAX_TRIES):
            prob = self._probability(image, crop)
            part = part_at(prob >= self.threshold, x, y, PICK_RADIUS * side)
            if part is not None:
                found = part, prob
                if not touches_crop_edge(part, crop, width, height):
                    break
                bx0, by0, bx1, by1 = part_box(part)
                side = max(side * GROWTH, max(bx1 - bx0, by1 - by0) * (1 + 2 * CLICK_MARGIN))
                centre_x, centre_y = (bx0 + bx1) / 2, (by0 + by1) / 2
            else:
                side, centre_x, centre_y = side * GROWTH, x, y
            if crop.covers(width, height):
                break
            crop = square_crop(centre_x, centre_y, side, width, height, keep=(x, y))
        if found is None:
            raise InputError(f"found no object at ({x:g}, {y:g}); click inside the object or upload its mask")
        return cutout(*found)

    def salient_objects(self, image: np.ndarray) -> list[Cutout]:
        """The whole picture's salient parts, largest first (specks under :data:`MIN_SALIENT` dropped)."""
        height, width = image.shape[:2]
        prob = self._probability(image, Crop(0, 0, width, height))
        labels, count = label_parts(prob >= self.threshold)
        areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
        order = [
            int(i) + 1 for i in np.argsort(-areas, kind="stable") if areas[i] >= MIN_SALIENT * height * width
        ]
        return [cutout(labels == number, prob) for number in order]

    def _current(self) -> np.ndarray:
        if self._image is None:
            raise RuntimeError("call set_image(image) before predicting masks")
        return self._image

    def _probability(self, image: np.ndarray, crop: Crop) -> np.ndarray:
        """The probability over the whole picture: the network's answer inside ``crop``, 0 outside."""
        prob = np.zeros(image.shape[:2], dtype=np.float32)
        window = np.ascontiguousarray(image[crop.y0 : crop.y1, crop.x0 : crop.x1, :3])
        prob[crop.y0 : crop.y1, crop.x0 : crop.x1] = self.net.probability(window)
        return prob


def square_crop(
    cx: float, cy: float, side: float, width: int, height: int, keep: tuple[float, float] | None = None
) -> Crop:
    """A ``side`` square centred on (cx, cy), shifted inside the picture (cut to it where larger),
    and shifted again so that the point ``keep`` stays inside."""

    def span(centre: float, limit: int, point: float | None) -> tuple[int, int]:
        length = min(limit, max(1, round(side)))
        start = round(centre - length / 2)
        if point is not None:
            start = min(max(start, int(point) + 1 - length), int(point))
        start = min(max(0, start), limit - length)
        return start, start + length

    x0, x1 = span(cx, width, keep[0] if keep else None)
    y0, y1 = span(cy, height, keep[1] if keep else None)
    return Crop(x0, y0, x1, y1)


def box_crop(box: Box, width: int, height: int) -> Crop:
    """The square around ``box`` with :data:`BOX_MARGIN` context on every side."""
    x0, y0, x1, y1 = box
    side = max(MIN_CROP, max(x1 - x0, y1 - y0) * (1 + 2 * BOX_MARGIN))
    return square_crop((x0 + x1) / 2, (y0 + y1) / 2, side, width, height)


def centre_region(box: Box, shape: tuple[int, int]) -> np.ndarray:
    """The middle half (in each direction) of ``box``, at least one pixel."""
    x0, y0, x1, y1 = box
    region = np.zeros(shape, dtype=bool)
    qx, qy = (x1 - x0) / 4, (y1 - y0) / 4
    left, top = max(0, int(x0 + qx)), max(0, int(y0 + qy))
    region[top : max(top + 1, int(np.ceil(y1 - qy))), left : max(left + 1, int(np.ceil(x1 - qx)))] = True
    return region


def label_parts(mask: np.ndarray) -> tuple[np.ndarray, int]:
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return labels, count - 1


def touches_box_edge(labels: np.ndarray, count: int, box: Box) -> np.ndarray:
    """Per part (1..count): does it reach the box's border (a neighbour the box cuts through)?"""
    height, width = labels.shape
    x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
    x1, y1 = min(width, int(np.ceil(box[2]))) - 1, min(height, int(np.ceil(box[3]))) - 1
    rim = np.concatenate(
        [labels[y0, x0 : x1 + 1], labels[y1, x0 : x1 + 1], labels[y0 : y1 + 1, x0], labels[y0 : y1 + 1, x1]]
    )
    return np.bincount(rim, minlength=count + 1)[1:] > 0


def part_at(mask: np.ndarray, x: float, y: float, radius: float) -> np.ndarray | None:
    """The connected part of ``mask`` under (x, y), else the nearest one within ``radius`` pixels."""
    labels, count = label_parts(mask)
    if count == 0:
        return None
    px, py = int(x), int(y)
    number = int(labels[py, px])
    if number == 0:
        r = max(1, round(radius))
        window = labels[max(0, py - r) : py + r + 1, max(0, px - r) : px + r + 1]
        ys, xs = np.nonzero(window)
        if len(ys) == 0:
            return None
        ys, xs = ys + max(0, py - r), xs + max(0, px - r)
        nearest = int(np.argmin((ys - py) ** 2 + (xs - px) ** 2))
        if (ys[nearest] - py) ** 2 + (xs[nearest] - px) ** 2 > r * r:
            return None
        number = int(labels[ys[nearest], xs[nearest]])
    return labels == number


def part_box(part: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(part)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def touches_crop_edge(part: np.ndarray, crop: Crop, width: int, height: int) -> bool:
    """Does ``part`` reach a side of ``crop`` that is not also the picture's border?"""
    sides = (
        (crop.x0 > 0, part[crop.y0 : crop.y1, crop.x0]),
        (crop.x1 < width, part[crop.y0 : crop.y1, crop.x1 - 1]),
        (crop.y0 > 0, part[crop.y0, crop.x0 : crop.x1]),
        (crop.y1 < height, part[crop.y1 - 1, crop.x0 : crop.x1]),
    )
    return any(inner and bool(edge.any()) for inner, edge in sides)


def cutout(mask: np.ndarray, prob: np.ndarray) -> Cutout:
    """``mask`` with its soft alpha: the probability on and just around it (its own rim), 0 elsewhere."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ALPHA_RIM + 1, 2 * ALPHA_RIM + 1))
    near = cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)
    return Cutout(mask=mask, alpha=np.where(near, prob, 0.0).astype(np.float32))
