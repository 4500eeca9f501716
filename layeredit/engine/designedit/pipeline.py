"""The layered denoising loop (docs/method.md steps 3-7) on inverted trajectories.

UNet cost, in latents evaluated (``unet_calls``), with N = steps, F = fusion step, K = number of
steps up to F with a nonzero key mask (those of the key-mask window if the hole is not empty and
of the refine window if the refine mask is not empty), B = last blend step and P = pictures inverted
in this run (cache misses)::

    unet_calls = N·P  +  2·K  +  (F − K − S)  +  (N − F)

S is the number of steps 1..min(B, F) that need no UNet at all: when the hole is empty, the
background latent is the inverted source after each of them (S = min(B, F), K = 0); otherwise
S = 0. Removal or a move of an object at 50 steps (key masking on steps 2..40): 50 + 2·39 + 3 + 8 = 139.
An edit with three source pictures (e.g. two inserted objects and a move): 150 + 89 = 239.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from diffusers import DDIMScheduler

from layeredit.engine.designedit.attention import KeyMaskController
from layeredit.engine.designedit.config import DesignEditConfig
from layeredit.engine.designedit.denoiser import Denoiser
from layeredit.engine.designedit.fusion import LatentLayer, fuse
from layeredit.engine.designedit.inversion import Trajectory

# Called after every denoising step with the step number (from 1) and the latent after it.
StepObserver = Callable[[int, torch.Tensor], None]
# Called once, just before the layers are fused, with the background branch's predicted clean
# latent: the inpainted background without any object, the clean plate.
PlateObserver = Callable[[torch.Tensor], None]


@dataclass
class LatentScene:
    background: Trajectory  # inversion of the picture behind the layers
    hole: torch.Tensor  # (1, 1, h, w) {0, 1}: background latents to paint
    layers: list[LatentLayer]  # bottom to top
    refine: torch.Tensor | None = None  # (1, 1, h, w) {0, 1}: extra key mask for the refine window

    def key_mask(self, step: int, config: DesignEditConfig) -> torch.Tensor | None:
        """M for the background branch at ``step``, or None when it masks nothing."""
        mask = torch.zeros_like(self.hole)
        if step < config.key_mask_from:
            return None
        if step <= config.key_mask_last:
            mask = mask + self.hole
        if self.refine is not None and step <= config.refine_last:
            mask = mask + self.refine
        return mask.clamp(0, 1) if mask.any() else None

    def edited(self) -> torch.Tensor:
        """Latent pixels the edit changes once the layers are fused."""
        region = self.hole
        for layer in self.layers:
            region = torch.maximum(region, layer.placed_mask())
        return region


def expected_unet_calls(config: DesignEditConfig, scene: LatentScene, pictures_inverted: int) -> int:
    """The module docstring's formula, evaluated step by step the way :func:`denoise` spends it."""
    calls = config.steps * pictures_inverted
    for step in range(1, config.steps + 1):
        if step > config.fusion_step:
            calls += 1
        elif not scene.hole.any() and step <= config.blend_last:
            continue
        else:
            calls += 2 if scene.key_mask(step, config) is not None else 1
    return calls


@torch.no_grad()
def denoise(
    scene: LatentScene,
    denoiser: Denoiser,
    scheduler: DDIMScheduler,
    controller: KeyMaskController,
    config: DesignEditConfig,
    generator: torch.Generator | None = None,
    on_step: StepObserver | None = None,
    on_plate: PlateObserver | None = None,
) -> torch.Tensor:
    """Denoise the background with key-masked attention, fuse the layers, denoise the canvas.

    Returns the clean canvas latent (1, C, h, w) in float32. ``controller`` must be the one the
    UNet's key-masking processors hold.
    """
    source = scene.background.latents
    dtype = denoiser.unet.dtype
    region = scene.hole  # where the latent may differ from the source; grows at fusion
    latents = source[0].clone()
    plate = source[0]  # what the background branch predicts as clean; the source until it is denoised
    if config.fusion_step == 0:
        latents, region = fuse(latents, scene.layers, 0), scene.edited()
    for step, timestep in enumerate(scheduler.timesteps, start=1):
        fused = step > config.fusion_step
        if not fused and step <= config.blend_last and not scene.hole.any():
            # Blending would replace every latent by the source's: the UNet has nothing to do.
            latents = source[step].clone()
        else:
            mask = None if fused else scene.key_mask(step, config)
            if mask is None:
                controller.set_masks(None)
                eps = denoiser(latents.to(dtype), timestep).float()
            else:
                # Row 0 is key-masked (the "conditional" half), row 1 is not; same empty prompt.
                controller.set_masks(torch.cat([mask, torch.zeros_like(mask)]))
                eps_masked, eps_plain = denoiser(torch.cat([latents, latents]).to(dtype), timestep).float()
                eps = (eps_plain + config.guidance * (eps_masked - eps_plain))[None]
            latents, plate = scheduler.step(eps, timestep, latents, generator=generator, return_dict=False)
            if step <= config.blend_last:
                latents = source[step] + (latents - source[step]) * region
            # The reference code never guides the fused canvas; ``guide_canvas`` keeps pulling it.
            guided = not (fused and scene.layers) or config.guide_canvas
            if guided and int(timestep) < config.inversion_guidance_below:
                latents = latents - config.inversion_guidance_rate * (latents - source[step]) * (1 - region)
        if step == config.fusion_step:
            if on_plate:
                on_plate(plate)
            latents, region = fuse(latents, scene.layers, step), scene.edited()
        if on_step:
            on_step(step, latents)
    controller.set_masks(None)
    return latents
