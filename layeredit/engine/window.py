"""Windows of a scene: the part of the photo an edit touches, cut out (and scaled) for an engine,
and the engine's result put back into the full-size photo."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from layeredit.engine.base import RenderedLayer
from layeredit.engine.scene import Layer, Scene
from layeredit.tools.masks import bbox_of, feather_reach, grown_box

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, x1/y1 exclusive


def touched_box(scene: Scene, margin: int) -> Box | None:
    """The box around every pixel the scene changes or reads, grown by ``margin``; None if none.

    A drawn layer reads its pixels where its object is in its picture and writes them where it
    is pasted, so a move's window covers both its source and its destination.
    """
    height, width = scene.source.shape[:2]
    boxes = [bbox_of(scene.hole)] if scene.hole.any() else []
    reach = scene.px(scene.params.object_dilation) + feather_reach(scene.px(scene.params.feather))
    for layer in scene.drawn:
        x0, y0, x1, y1 = grown_box(bbox_of(layer.mask), reach, layer.mask.shape)
        dx, dy = layer.offset
        boxes.append((x0, y0, x1, y1))
        pasted = (max(0, x0 + dx), max(0, y0 + dy), min(width, x1 + dx), min(height, y1 + dy))
        if pasted[0] < pasted[2] and pasted[1] < pasted[3]:
            boxes.append(pasted)
    if not boxes:
        return None
    lefts, tops, rights, bottoms = zip(*boxes, strict=True)
    return grown_box((min(lefts), min(tops), max(rights), max(bottoms)), margin, scene.source.shape)


def box_area(box: Box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def window_scene(scene: Scene, box: Box, scale: float = 1.0) -> Scene:
    """The part of ``scene`` inside ``box``, resized by ``scale``; layers keep their offsets
    (scaled) and pictures shared by several layers stay shared."""
    x0, y0, x1, y1 = box
    size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    resized = size != (x1 - x0, y1 - y0)
    cut: dict[int, np.ndarray] = {}

    def picture(image: np.ndarray) -> np.ndarray:
        if id(image) not in cut:
            if image is not scene.source and np.array_equal(image, scene.source):
                cut[id(image)] = picture(scene.source)  # an untouched copy: cut and resized once
            else:
                part = image[y0:y1, x0:x1]
                part = cv2.resize(part, size, interpolation=cv2.INTER_AREA) if resized else part.copy()
                cut[id(image)] = part
        return cut[id(image)]

    def mask(values: np.ndarray, coverage: float) -> np.ndarray:
        part = values[y0:y1, x0:x1]
        if not resized:
            return part.copy()
        return cv2.resize(part.astype(np.float32), size, interpolation=cv2.INTER_AREA) > coverage

    layers = [
        Layer(
            name=layer.name,
            image=picture(layer.image),
            mask=mask(layer.mask, 0.5),
            offset=(round(layer.offset[0] * scale), round(layer.offset[1] * scale)),
            cut=layer.cut,
        )
        for layer in scene.layers
    ]
    height, width = scene.source.shape[:2]
    return Scene(
        source=picture(scene.source),
        background=picture(scene.background),
        # Any pixel the hole touches is painted, so nothing of a removed object survives.
        hole=mask(scene.hole, 0.0),
        layers=layers,
        params=scene.params,
        refine=None if scene.refine is None else mask(scene.refine, 0.0),
        frame_shape=(max(1, round(height * scale)), max(1, round(width * scale))),
    )


@dataclass(frozen=True)
class Seam:
    """Where an edited picture replaces the original: the region it may change, and the band along
    the region's edge (``seam_px`` deep, inside it) where the two are blended."""

    region: np.ndarray  # H x W bool
    box: Box  # around the region, where anything can change
    band: tuple[np.ndarray, np.ndarray]  # (ys, xs) of the blended pixels
    alpha: np.ndarray  # N x 1 weight of the edited picture there

    @classmethod
    def of(cls, region: np.ndarray, seam_px: int) -> Seam:
        x0, y0, x1, y1 = grown_box(bbox_of(region), 1, region.shape)
        depth = cv2.distanceTransform(region[y0:y1, x0:x1].astype(np.uint8), cv2.DIST_L2, 5)
        ys, xs = np.nonzero((depth > 0) & (depth < seam_px))
        alpha = (depth[ys, xs] / max(seam_px, 1))[:, None]
        return cls(region, (x0, y0, x1, y1), (ys + y0, xs + x0), alpha)

    def apply(self, original: np.ndarray, result: np.ndarray) -> np.ndarray:
        """``result`` inside the region and ``original`` exactly outside it."""
        out = original.copy()
        x0, y0, x1, y1 = self.box
        inside = self.region[y0:y1, x0:x1, None]
        out[y0:y1, x0:x1] = np.where(inside, result[y0:y1, x0:x1], original[y0:y1, x0:x1])
        ys, xs = self.band
        blended = original[ys, xs] * (1 - self.alpha) + result[ys, xs].astype(np.float32) * self.alpha
        out[ys, xs] = np.clip(np.round(blended), 0, 255).astype(np.uint8)
        return out


def keep_outside(original: np.ndarray, result: np.ndarray, region: np.ndarray, seam_px: int) -> np.ndarray:
    """``result`` inside ``region`` and ``original`` exactly outside it; the seam ramps over
    ``seam_px`` pixels inside the region so it never reaches beyond it."""
    if not region.any():
        return original.copy()
    return Seam.of(region, seam_px).apply(original, result)


def paste_back(full: np.ndarray, part: np.ndarray, box: Box, seam: Seam | None = None) -> np.ndarray:
    """``full`` with ``part`` (a window's result, maybe at another scale) put back into ``box``;
    with a ``seam`` only its region takes the part's pixels."""
    x0, y0, x1, y1 = box
    if part.shape[:2] != (y1 - y0, x1 - x0):
        part = cv2.resize(part, (x1 - x0, y1 - y0), interpolation=cv2.INTER_CUBIC)
    out = full.copy()
    out[y0:y1, x0:x1] = part
    return out if seam is None else seam.apply(full, out)


def full_size_layers(
    layers: list[RenderedLayer],
    box: Box,
    background: np.ndarray,
    seam: Seam | None,
    pasted: tuple[np.ndarray, np.ndarray],
) -> list[RenderedLayer]:
    """A window's rendered layers on the full canvas: the bottom (background) layer is the full
    background outside the window's edit, the others are transparent outside the window.
    ``pasted`` is a (window picture, its paste-back) pair already made, reused when a layer is it."""
    out = []
    for index, layer in enumerate(layers):
        if index == 0:
            opaque = np.full(background.shape[:2], 255, dtype=np.uint8)
            part, full = pasted
            rgb = full if np.array_equal(layer.rgba[..., :3], part) else (
                paste_back(background, layer.rgba[..., :3], box, seam)
            )
            out.append(RenderedLayer(name=layer.name, rgba=np.dstack([rgb, opaque])))
        else:
            canvas = np.zeros((*background.shape[:2], 4), dtype=np.uint8)
            out.append(RenderedLayer(name=layer.name, rgba=paste_back(canvas, layer.rgba, box)))
    return out
