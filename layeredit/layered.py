"""Take a picture apart into layers and put it back together after people moved them.

``decompose`` gives the clean background plate plus each object as an RGBA layer at its place;
``compose`` reads those layers back (moved, resized, reordered, hidden or deleted in any editor),
turns the difference into an ordinary :class:`~layeredit.plan.EditPlan` and renders it through
the engine, so the objects are fused and the holes painted exactly as in a typed edit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from layeredit.admission.documents import MAX_NAME
from layeredit.api import Box, MaskLike, mask_array, resolve_engine
from layeredit.editing import EditOptions, run_edit
from layeredit.engine.base import EditResult, Engine, ProgressCallback, RenderedLayer
from layeredit.engine.resolution import ResolutionParams
from layeredit.errors import InputError, clip
from layeredit.export import opaque_box
from layeredit.imageio import as_rgb_array
from layeredit.layerfile import (
    BACKGROUND,
    FoundObject,
    LayeredScene,
    SceneRecord,
    claim_scene_output,
    read_scene,
    write_scene,
)
from layeredit.plan import EditPlan, Move, Remove, Reorder, Resize, Target
from layeredit.tools.auto import AutomaticResolver, how_to_get
from layeredit.tools.isnet import ISNET_HELP
from layeredit.tools.masks import MaskError, bbox, centroid
from layeredit.tools.resolve import MaskResolver, NamedMasks, box_mask

DEFAULT_MAX_LAYERS = 8
# A layer resized by less than this (either way) keeps its size: editors round layer bounds.
SCALE_TOLERANCE = 0.02
# Automatic objects covering more of the picture than this are scenery, not objects.
MAX_AUTO_AREA = 0.85


@dataclass
class Decomposition:
    original: np.ndarray  # H x W x 3 uint8
    layers: list[RenderedLayer]  # the plate first, then each object where it is, bottom to top
    record: SceneRecord

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write a .psd, an .ora or a folder of PNG layers with ``scene.json`` (no suffix); an
        existing file, or a folder with files in it, is replaced only with ``overwrite``."""
        claim_scene_output(path, overwrite=overwrite)
        return write_scene(path, self.original, self.layers, self.record)


@dataclass
class Composition:
    image: np.ndarray  # H x W x 3 uint8
    plan: EditPlan | None  # None when no layer changed: the picture is the original
    result: EditResult | None = None  # the engine's, with its layers; None when nothing changed
    ignored: list[str] = field(default_factory=list)  # layers decompose did not write (added, renamed)


# -- decompose ------------------------------------------------------------------------------------


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name 2``, ``name 3``... when layers already use it."""
    candidate, number = name, 2
    while candidate.lower() in taken or candidate == BACKGROUND:
        candidate, number = f"{name} {number}", number + 1
    taken.add(candidate.lower())
    return candidate


def find_objects(
    image: np.ndarray,
    phrases: Sequence[str] = (),
    masks: Mapping[str, MaskLike] | None = None,
    boxes: Mapping[str, Box] | None = None,
    resolver: MaskResolver | None = None,
) -> list[tuple[str, np.ndarray, str]]:
    """(name, mask, how it was found) for every object asked for; a phrase may find several."""
    size = (image.shape[1], image.shape[0])
    found: list[tuple[str, np.ndarray, str]] = []
    for name, mask in (masks or {}).items():
        found.append((name, mask_array(mask), "mask"))
    for name, box in (boxes or {}).items():
        found.append((name, box_mask(box, size), "box"))
    if phrases:
        from layeredit.agent import RulePlanner  # reads "the cup on the left" as a target

        finder = resolver or AutomaticResolver()
        for phrase in phrases:
            target = RulePlanner().target(phrase)
            found += [(phrase, mask, "phrase") for mask in finder.resolve(image, target)]
    for name, mask, _ in found:
        if not name.strip() or len(name) > MAX_NAME:  # a layer name every format can keep
            raise InputError(f"object name {clip(name)!r} must have 1 to {MAX_NAME} characters")
        if mask.shape != image.shape[:2]:
            raise MaskError(
                f"mask for '{name}' is {mask.shape[1]}x{mask.shape[0]} but the image is "
                f"{size[0]}x{size[1]}; masks must have the same size as the image"
            )
    return found


def salient_objects(
    image: np.ndarray, finder: AutomaticResolver, max_layers: int
) -> list[tuple[str, np.ndarray, str]]:
    """Up to ``max_layers`` things grounding finds over a vocabulary of common objects (the most
    confident first), cut out by the segmenter ``finder`` chooses. Without the detection models,
    IS-Net's salient parts of the whole picture (largest first), named "object"."""
    from layeredit.tools.grounding import SURVEY_VOCABULARY
    from layeredit.tools.masks import MAX_HOLE_FRACTION, MIN_SPECK_FRACTION, clean_mask
    from layeredit.tools.perception import covering_box_mask

    missing = finder.missing_models()
    if missing:
        return salient_parts(image, finder, max_layers, missing)
    grounded = finder.grounded()
    area = image.shape[0] * image.shape[1]
    detections = [
        d for d in grounded.grounder.detect(image, SURVEY_VOCABULARY) if d.area < MAX_AUTO_AREA * area
    ]
    chosen = sorted(detections, key=lambda d: d.score, reverse=True)[:max_layers]
    if not chosen:
        return []
    grounded.segmenter.set_image(image)
    found = []
    for detection, mask in zip(chosen, grounded.segmenter.predict([d.box for d in chosen]), strict=True):
        cleaned = clean_mask(mask, MAX_HOLE_FRACTION, MIN_SPECK_FRACTION)
        found.append(
            (
                detection.label,
                cleaned if cleaned.any() else covering_box_mask(detection.box, image.shape),
                "auto",
            )
        )
    return found


def salient_parts(
    image: np.ndarray, finder: AutomaticResolver, max_layers: int, missing: list[str]
) -> list[tuple[str, np.ndarray, str]]:
    """IS-Net on the whole picture, each salient part an object: ``--auto`` without a detector."""
    from layeredit.tools.isnet import IsNetSegmenter, find_isnet_model

    if finder.segmenter not in (None, "isnet") or find_isnet_model(finder.isnet_model) is None:
        raise InputError(
            f"--auto needs the detection models ({how_to_get(missing)}) or IS-Net (--segmenter isnet; "
            f"{ISNET_HELP})"
        )
    parts = IsNetSegmenter(finder.isnet_model).salient_objects(image)[:max_layers]
    return [("object", part.mask, "auto") for part in parts]


def object_layer(
    image: np.ndarray, name: str, mask: np.ndarray, soft_edges: bool, progress: ProgressCallback | None = None
) -> RenderedLayer:
    """The object as full-canvas RGBA where it is: alpha matted along its border unless
    ``soft_edges`` is off, colours freed of the background's share there. ``progress`` hears every
    step of the matting, so a time limit can stop it."""
    if soft_edges:
        from layeredit.tools.matting import matte

        matted = matte(image, mask, progress=progress)
        alpha, colours = matted.alpha, matted.foreground
    else:
        alpha, colours = mask.astype(np.float32), image
    return RenderedLayer(name=name, rgba=np.dstack([colours, np.round(alpha * 255).astype(np.uint8)]))


def decompose(
    image: MaskLike,
    phrases: Sequence[str] = (),
    masks: Mapping[str, MaskLike] | None = None,
    boxes: Mapping[str, Box] | None = None,
    auto: bool = False,
    max_layers: int = DEFAULT_MAX_LAYERS,
    engine: str | Engine = "pixel",
    soft_edges: bool = True,
    resolver: MaskResolver | None = None,
    progress: ProgressCallback | None = None,
    resolution: ResolutionParams | None = None,
) -> Decomposition:
    """Split ``image`` into the clean background plate and one layer per object.

    Objects come from ``masks`` and ``boxes`` (by name), ``phrases`` found by grounding, and with
    ``auto`` the salient things grounding finds by itself, up to ``max_layers`` in all. The plate
    is ``engine``'s picture with every object removed. Layers are ordered back to front by where
    the objects stand: the lower an object's foot in the picture, the nearer it is.
    """
    pixels = as_rgb_array(image)
    found = find_objects(pixels, phrases, masks, boxes, resolver)
    if auto:
        finder = resolver if isinstance(resolver, AutomaticResolver) else AutomaticResolver()
        found += salient_objects(pixels, finder, max(0, max_layers - len(found)))
    found = [item for item in found if item[1].any()][:max_layers]
    if not found:
        raise InputError(
            "no objects to put on layers: name them (PHRASE, --mask NAME=PATH, --box NAME=x0,y0,x1,y1) "
            "or use --auto"
        )
    taken: set[str] = set()
    named = [(unique_name(name, taken), mask, source) for name, mask, source in found]
    named.sort(key=lambda item: bbox(item[1])[3])  # farther back first
    masks_by_name = {name: mask for name, mask, _ in named}
    removal = EditPlan(operations=[Remove(target=Target(phrase=name)) for name in masks_by_name])
    options = EditOptions(resolution=resolution, progress=progress)
    names = NamedMasks(masks_by_name)
    plate = run_edit(pixels, removal, None, names, resolve_engine(engine), options).layers[0]
    layers = [RenderedLayer(name=BACKGROUND, rgba=plate.rgba)]
    layers += [object_layer(pixels, name, mask, soft_edges, progress) for name, mask, _ in named]
    # The record keeps each layer's box as written, so compose compares like with like.
    record_items = [
        FoundObject(layer.name, opaque_box(layer.rgba) or bbox(mask), source)
        for layer, (_, mask, source) in zip(layers[1:], named, strict=True)
    ]
    return Decomposition(
        pixels, layers, SceneRecord(size=(pixels.shape[1], pixels.shape[0]), found=record_items)
    )


# -- compose --------------------------------------------------------------------------------------


def original_mask(scene: LayeredScene, item: FoundObject) -> np.ndarray:
    """Where the object was in the original picture: its layer's alpha, brought back to the box it
    was found in (a deleted layer: the box itself)."""
    width, height = scene.record.size
    left, top, right, bottom = item.box
    layer = scene.layer(item.name)
    if layer is None:
        return box_mask(item.box, (width, height))
    alpha = layer.rgba[..., 3]
    if alpha.shape != (bottom - top, right - left):
        alpha = cv2.resize(alpha, (right - left, bottom - top), interpolation=cv2.INTER_LINEAR)
    mask = np.zeros((height, width), dtype=bool)
    mask[top:bottom, left:right] = alpha > 127
    return mask


def scene_changes(scene: LayeredScene) -> tuple[EditPlan | None, dict[str, np.ndarray]]:
    """The edit plan that turns the original picture into the scene as the layers now are, and
    the object masks it names (by layer name)."""
    width, height = scene.record.size
    masks = {item.name: original_mask(scene, item) for item in scene.record.found}
    known = {item.name: item for item in scene.record.found}
    shown = [layer.name for layer in scene.layers if layer.visible and layer.name in known]
    operations: list[Move | Remove | Resize | Reorder] = []
    for item in scene.record.found:
        if item.name not in shown and masks[item.name].any():
            operations.append(Remove(target=Target(phrase=item.name)))
    touched = []
    for name in shown:  # bottom to top: moved layers are cut out, and so stacked, in this order
        geometry = _placement(known[name].box, scene.layer(name).box, masks[name], (width, height))
        if geometry is None:
            continue
        scale, dx, dy = geometry
        target = Target(phrase=name)
        if scale is not None:
            operations.append(Resize(target=target, scale=scale))
        if dx or dy:
            operations.append(Move(target=target, dx=dx, dy=dy))
        touched.append(name)
    # Untouched objects stay in the background, below every cut-out one: bring the rest of the stack
    # to the front in order from the lowest object whose place in it changed.
    original_order = [item.name for item in scene.record.found if item.name in shown]
    first_change = next(
        (i for i, name in enumerate(shown) if name in touched or name != original_order[i]), None
    )
    if first_change is not None and any(name not in touched for name in shown[first_change:]):
        operations += [Reorder(target=Target(phrase=name), position="front") for name in shown[first_change:]]
    plan = EditPlan(operations=operations) if operations else None
    return plan, masks


def _placement(
    found: tuple[int, int, int, int], now: tuple[int, int, int, int], mask: np.ndarray, size: tuple[int, int]
) -> tuple[float | None, float, float] | None:
    """(scale or None, dx, dy) taking the object from its ``found`` box to its box ``now``, the
    shifts as fractions of the picture; None when it has not moved."""
    width, height = size
    (fl, ft, fr, fb), (nl, nt, nr, nb) = found, now
    scale = math.sqrt(((nr - nl) * (nb - nt)) / ((fr - fl) * (fb - ft)))
    if abs(scale - 1) <= SCALE_TOLERANCE:
        scale = 1.0
    # A resize scales about the mask's centroid; the move then takes the box centre where it is now.
    cx, cy = centroid(mask) if mask.any() else ((fl + fr) / 2, (ft + fb) / 2)
    scaled_x = cx + scale * ((fl + fr) / 2 - cx)
    scaled_y = cy + scale * ((ft + fb) / 2 - cy)
    shift_x, shift_y = round((nl + nr) / 2 - scaled_x), round((nt + nb) / 2 - scaled_y)
    if scale == 1.0 and not shift_x and not shift_y:
        return None
    dx, dy = _fraction(shift_x, width), _fraction(shift_y, height)
    return (None if scale == 1.0 else min(scale, 10.0)), dx, dy


def _fraction(pixels: int, side: int) -> float:
    """A pixel shift as a fraction of the side, kept inside the plan's open range (-1, 1)."""
    return max(-(side - 1) / side, min((side - 1) / side, pixels / side))


def compose(
    scene: str | Path | LayeredScene,
    engine: str | Engine = "pixel",
    progress: ProgressCallback | None = None,
    resolution: ResolutionParams | None = None,
) -> Composition:
    """Render a layered scene written by :func:`decompose` after its layers were edited.

    Layers moved, resized, reordered, hidden or deleted become move, resize, reorder and remove
    operations on the original picture, rendered by ``engine`` through the one edit function
    (:func:`layeredit.editing.run_edit`) with the ``resolution`` strategy.
    """
    layered = scene if isinstance(scene, LayeredScene) else read_scene(scene)
    plan, masks = scene_changes(layered)
    ignored = unknown_layers(layered)
    if plan is None:
        return Composition(image=layered.original.copy(), plan=None, ignored=ignored)
    options = EditOptions(resolution=resolution, progress=progress)
    result = run_edit(layered.original, plan, None, NamedMasks(masks), resolve_engine(engine), options)
    return Composition(image=result.image, plan=plan, result=result, ignored=ignored)


def unknown_layers(scene: LayeredScene) -> list[str]:
    """Names of layers compose cannot place: added in the editor, or renamed (a renamed object
    counts as deleted, since its name is how compose knows it)."""
    known = {item.name for item in scene.record.found} | {BACKGROUND}
    return [layer.name for layer in scene.layers if layer.name not in known]
