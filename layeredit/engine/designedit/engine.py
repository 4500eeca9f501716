"""The DesignEdit engine: a :class:`~layeredit.engine.scene.Scene` rendered by layered latent diffusion.

Each distinct picture of the scene is inverted once (and cached across edits), the background is
inpainted by key-masked self-attention with masked-versus-unmasked guidance, the object layers'
latents are fused at the fusion step and the canvas is denoised to harmonise the seams. The
decoded result replaces the input only inside the scene's edited region.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from diffusers import DDIMScheduler, DiffusionPipeline
from tqdm.auto import tqdm

from layeredit.engine.base import EditResult, ProgressCallback, RenderedLayer, SceneRenderer
from layeredit.engine.designedit.attention import KeyMaskController, key_masking
from layeredit.engine.designedit.config import DEFAULT_MODEL, DesignEditConfig
from layeredit.engine.designedit.denoiser import Denoiser, EmptyPrompt
from layeredit.engine.designedit.frame import Frame, working_size
from layeredit.engine.designedit.fusion import LatentLayer
from layeredit.engine.designedit.inversion import (
    InversionCache,
    Trajectory,
    ddim_invert,
    decode,
    encode,
    picture_key,
)
from layeredit.engine.designedit.loading import apply_memory_options, load_pipeline
from layeredit.engine.designedit.pipeline import LatentScene, StepObserver, denoise
from layeredit.engine.pixel import paste_alpha
from layeredit.engine.scene import Scene, SceneParams
from layeredit.engine.window import keep_outside
from layeredit.plan import EditPlan
from layeredit.tools.masks import MaskError, dilate

# A latent pixel belongs to an object layer when the grown object covers at least half of it; to
# the hole when the hole touches it at all, so no trace of a removed object is blended back.
LAYER_COVERAGE = 0.5
HOLE_COVERAGE = 0.0


@dataclass
class Rendering:
    image: np.ndarray  # H x W x 3 uint8, input size
    plate: np.ndarray  # H x W x 3 uint8: the inpainted background branch, decoded, without the objects
    stats: dict[str, int | float | str]
    timings: dict[str, float]


class DesignEditEngine(SceneRenderer):
    """Edits with a diffusers UNet latent-diffusion pipeline (SDXL, SD 1.5/2.x)."""

    name = "designedit"

    def __init__(
        self,
        pipe: DiffusionPipeline,
        config: DesignEditConfig | None = None,
        model_id: str = DEFAULT_MODEL,
        params: SceneParams | None = None,
    ):
        self.pipe = pipe
        self.config = config or DesignEditConfig()
        self.model_id = model_id
        self.params = params or SceneParams()
        self.cache = InversionCache(self.config.cache_size)
        self._prompt: EmptyPrompt | None = None
        apply_memory_options(pipe, self.config.cpu_offload, self.config.vae_tiling, self.config.vae_slicing)

    @classmethod
    def from_pretrained(
        cls, model: str = DEFAULT_MODEL, device: str | None = None, config: DesignEditConfig | None = None
    ) -> DesignEditEngine:
        return cls(load_pipeline(model, device), config, model_id=model)

    # -- model facts -------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        """Where the UNet runs (with CPU offload, the GPU it is moved to for each call)."""
        return self.pipe._execution_device

    @property
    def latent_factor(self) -> int:
        return 2 ** (len(self.pipe.vae.config.block_out_channels) - 1)

    @property
    def size_multiple(self) -> int:
        """Working sides are multiples of this so every UNet level has a whole token grid."""
        return self.latent_factor * 2 ** (len(self.pipe.unet.config.block_out_channels) - 1)

    @property
    def native_side(self) -> int:
        sample_size = self.pipe.unet.config.sample_size
        side = sample_size[0] if isinstance(sample_size, (list, tuple)) else sample_size
        return side * self.latent_factor

    @property
    def working_side(self) -> int:
        """Side of the square area the model works at (aspect kept)."""
        return self.config.resolution or self.native_side

    def frame(self, input_size: tuple[int, int], full_size: bool = False) -> Frame:
        """The working frame; ``full_size`` never works below the input's own area."""
        side = self.working_side
        if full_size:
            side = max(side, math.isqrt(input_size[0] * input_size[1]))
        return Frame(input_size, working_size(input_size, side, self.size_multiple), self.latent_factor)

    def denoiser(self) -> Denoiser:
        if self._prompt is None:
            self._prompt = EmptyPrompt.encode(self.pipe, self.device)
        return Denoiser(self.pipe.unet, self._prompt, vae_scale_factor=self.latent_factor)

    # -- editing -----------------------------------------------------------------------------

    def run_scene(
        self, scene: Scene, plan: EditPlan, progress: ProgressCallback | None = None, full_size: bool = False
    ) -> EditResult:
        """Render a compiled scene; ``full_size`` works at no less than the scene's own size."""
        rendering = self.render(scene, progress, full_size=full_size)
        image = rendering.image
        opaque = np.full(image.shape[:2], 255, dtype=np.uint8)
        layers = [RenderedLayer(name="background", rgba=np.dstack([rendering.plate, opaque]))]
        for layer in scene.drawn:
            alpha = np.round(paste_alpha(scene, layer) * 255).astype(np.uint8)
            layers.append(RenderedLayer(name=layer.name, rgba=np.dstack([image, alpha])))
        timings = rendering.timings
        return EditResult(image=image, plan=plan, scene=scene, layers=layers, timings=timings,
                          stats=rendering.stats)

    def render(
        self,
        scene: Scene,
        progress: ProgressCallback | None = None,
        on_step: StepObserver | None = None,
        full_size: bool = False,
    ) -> Rendering:
        """The scene's image at the input size; ``on_step`` sees the latent after every step."""
        refine_mask = scene.refine
        if refine_mask is not None and refine_mask.shape != scene.hole.shape:
            raise MaskError(f"refine mask is {refine_mask.shape[1]}x{refine_mask.shape[0]} but the image "
                            f"is {scene.hole.shape[1]}x{scene.hole.shape[0]}")
        config, timings = self.config, {}
        height, width = scene.source.shape[:2]
        frame = self.frame((width, height), full_size)
        # The paper's DDIM, whatever scheduler the pipeline ships with; latents are not images, so
        # predicted samples must not be clipped to [-1, 1].
        scheduler = DDIMScheduler.from_config(self.pipe.scheduler.config, clip_sample=False,
                                              set_alpha_to_one=False)
        scheduler.set_timesteps(config.steps, device=self.device)
        denoiser = self.denoiser()

        start = time.perf_counter()
        pictures = {id(scene.background): scene.background}
        pictures.update({id(layer.image): layer.image for layer in scene.drawn})
        trajectories, inverted = self._invert(pictures, frame, scheduler, denoiser, progress)
        inversion_rows = denoiser.rows
        timings["invert"] = time.perf_counter() - start

        start = time.perf_counter()
        latent_scene = self._latent_scene(scene, frame, trajectories, refine_mask)
        latents, plates = self._denoise(latent_scene, denoiser, scheduler, progress, on_step)
        timings["denoise"] = time.perf_counter() - start

        start = time.perf_counter()
        result, plate = self._decode(scene, frame, latents, plates)
        timings["decode"] = time.perf_counter() - start

        stats: dict[str, int | float | str] = {
            "unet_calls": denoiser.rows,
            "unet_passes": denoiser.passes,
            "unet_calls_inversion": inversion_rows,
            "pictures_inverted": inverted,
            "steps": config.steps,
            "working_size": f"{frame.size[0]}x{frame.size[1]}",
            "model": self.model_id,
            "hole_pixels": int(scene.hole.sum()),
            "layers": len(scene.drawn),
        }
        return Rendering(image=result, plate=plate, stats=stats, timings=timings)

    def _denoise(
        self,
        latent_scene: LatentScene,
        denoiser: Denoiser,
        scheduler: DDIMScheduler,
        progress: ProgressCallback | None,
        on_step: StepObserver | None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The final latent and the background plate's latent (when fusion happened) after the
        layered denoising loop, with key masking installed on the UNet for its duration."""
        config = self.config
        controller = KeyMaskController()
        generator = torch.Generator(device="cpu").manual_seed(config.seed)
        with key_masking(self.pipe.unet, controller), tqdm(
            total=config.steps, desc="denoise", disable=not config.progress_bar, leave=False
        ) as bar:

            def observe(step: int, latents: torch.Tensor) -> None:
                bar.update(1)
                if progress:
                    progress("denoise", step, config.steps)
                if on_step:
                    on_step(step, latents)

            plates: list[torch.Tensor] = []
            latents = denoise(latent_scene, denoiser, scheduler, controller, config, generator, observe,
                              on_plate=plates.append)
        return latents, plates

    def _decode(
        self, scene: Scene, frame: Frame, latents: torch.Tensor, plates: list[torch.Tensor]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The result and the clean plate at the input size, the input kept outside the edit."""
        config = self.config
        result = frame.to_input(decode(self.pipe.vae, latents))
        # Nothing painted: the plate is the background picture. No fusion step inside the schedule:
        # there is no separate background branch, the result is all there is.
        if not scene.hole.any():
            plate = scene.background
        else:
            plate = frame.to_input(decode(self.pipe.vae, plates[0])) if plates else result
        if config.preserve_unedited:
            result = keep_outside(scene.source, result, scene.edited_region(), scene.px(config.seam_feather))
            plate = keep_outside(scene.background, plate, scene.hole, scene.px(config.seam_feather))
        return result, plate

    def _invert(
        self,
        pictures: dict[int, np.ndarray],
        frame: Frame,
        scheduler: DDIMScheduler,
        denoiser: Denoiser,
        progress: ProgressCallback | None,
    ) -> tuple[dict[int, Trajectory], int]:
        """A trajectory per picture id, inverting the cache misses in one batch; also their number."""
        keys = {
            ref: (picture_key(frame.picture(picture)), self.model_id, self.config.steps, frame.size)
            for ref, picture in pictures.items()
        }
        found = {ref: self.cache.get(key) for ref, key in keys.items()}
        missing = {}  # cache key -> picture ids; identical pictures are inverted once
        for ref, trajectory in found.items():
            if trajectory is None:
                missing.setdefault(keys[ref], []).append(ref)
        if missing:
            clean = encode(self.pipe.vae, [frame.picture(pictures[refs[0]]) for refs in missing.values()])
            with tqdm(total=self.config.steps, desc="invert", disable=not self.config.progress_bar,
                      leave=False) as bar:

                def observe(done: int, total: int) -> None:
                    bar.update(1)
                    if progress:
                        progress("invert", done, total)

                inverted = ddim_invert(denoiser, scheduler, clean, observe)
            for (key, refs), trajectory in zip(missing.items(), inverted, strict=True):
                self.cache.put(key, trajectory)
                found.update(dict.fromkeys(refs, trajectory))
        return found, len(missing)

    def _latent_scene(
        self,
        scene: Scene,
        frame: Frame,
        trajectories: dict[int, Trajectory],
        refine_mask: np.ndarray | None,
    ) -> LatentScene:
        grow = scene.px(self.params.object_dilation)
        layers = [
            LatentLayer(
                trajectory=trajectories[id(layer.image)],
                mask=frame.latent_mask(dilate(layer.mask, grow), LAYER_COVERAGE, self.device),
                shift=frame.latent_shift(layer.offset),
            )
            for layer in scene.drawn
        ]
        refine = None
        if refine_mask is not None and refine_mask.any():
            refine = frame.latent_mask(refine_mask, HOLE_COVERAGE, self.device)
        return LatentScene(
            background=trajectories[id(scene.background)],
            hole=frame.latent_mask(scene.hole, HOLE_COVERAGE, self.device),
            layers=layers,
            refine=refine,
        )
