"""The weight-free engine: PatchMatch hole filling plus feathered alpha compositing.

Holes are filled by :mod:`layeredit.engine.fill` (PatchMatch, or a smooth fill where its library
cannot load), at a bounded working size so the cost stays close to linear in the pixel count.

It renders the same :class:`~layeredit.engine.scene.Scene` as the diffusion engine, so it is both
a fast preview and the baseline the diffusion engine is measured against.
"""

from __future__ import annotations

import time

import numpy as np

from layeredit.engine.base import EditResult, ProgressCallback, RenderedLayer, SceneRenderer
from layeredit.engine.fill import fill_hole
from layeredit.engine.resolution import ResolutionParams
from layeredit.engine.scene import Layer, Scene, SceneParams
from layeredit.plan import EditPlan
from layeredit.tools.masks import dilate, feather, shift


def paste_alpha(scene: Scene, layer: Layer) -> np.ndarray:
    """Soft H x W alpha of a layer where it is pasted: the grown object mask, feathered."""
    grown = dilate(layer.mask, scene.px(scene.params.object_dilation))
    return feather(shift(grown, *layer.offset), scene.px(scene.params.feather))


def composite(base: np.ndarray, scene: Scene) -> tuple[np.ndarray, list[RenderedLayer]]:
    """Paste the scene's layers over ``base`` in z-order; also return each layer as RGBA."""
    canvas = base.astype(np.float32)
    rendered = []
    for layer in scene.drawn:
        alpha = paste_alpha(scene, layer)
        pixels = shift(layer.image, *layer.offset)
        canvas = canvas * (1 - alpha[..., None]) + pixels.astype(np.float32) * alpha[..., None]
        rgba = np.dstack([pixels, np.round(alpha * 255).astype(np.uint8)])
        rendered.append(RenderedLayer(name=layer.name, rgba=rgba))
    return np.clip(np.round(canvas), 0, 255).astype(np.uint8), rendered


class PixelEngine(SceneRenderer):
    """Edits without model weights; holes are filled by PatchMatch (:mod:`layeredit.engine.fill`).

    ``inpaint_radius`` and ``fill_side`` tune the smooth fallback fill: its Telea radius, and the
    side of the square area a hole's neighbourhood is painted at (the fill is smooth, so painting it
    smaller loses nothing the restored texture does not bring back).
    ``working_side``: the square area a resized photo is edited at (layeredit.engine.resolution).
    """

    name = "pixel"
    # How a photo larger than ``working_side`` is edited when the caller does not say (None: auto);
    # layeredit.engine.options.make_engine sets it from the options the engine was built with.
    resolution: ResolutionParams | None = None
    uses_refine_mask = False  # a fill from the picture's own pixels: no learned features to keep out

    def __init__(
        self,
        params: SceneParams | None = None,
        inpaint_radius: float = 5.0,
        fill_side: int = 512,
        working_side: int = 1024,
    ):
        self.params = params or SceneParams()
        self.inpaint_radius = inpaint_radius
        self.fill_side = fill_side
        self.working_side = working_side

    def run_scene(
        self, scene: Scene, plan: EditPlan, progress: ProgressCallback | None = None, full_size: bool = False
    ) -> EditResult:
        """Render a compiled scene; ``full_size`` paints the hole without shrinking it first (the
        direct path, whose cost grows much faster than the pixel count)."""
        timings: dict[str, float] = {}
        start = time.perf_counter()
        radius = scene.px(self.inpaint_radius)
        background = fill_hole(scene.background, scene.hole, radius, None if full_size else self.fill_side)
        timings["inpaint"] = time.perf_counter() - start
        if progress:
            progress("inpaint", 1, 2)

        start = time.perf_counter()
        image, rendered = composite(background, scene)
        timings["composite"] = time.perf_counter() - start
        if progress:
            progress("composite", 2, 2)

        opaque = np.full(background.shape[:2], 255, dtype=np.uint8)
        layers = [RenderedLayer(name="background", rgba=np.dstack([background, opaque])), *rendered]
        stats = {"hole_pixels": int(scene.hole.sum()), "layers": len(rendered)}
        return EditResult(image=image, plan=plan, scene=scene, layers=layers, timings=timings, stats=stats)
