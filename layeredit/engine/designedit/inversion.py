"""VAE encoding and DDIM inversion with the empty prompt (docs/method.md step 1).

A :class:`Trajectory` keeps every intermediate latent x*_t of one inverted picture: the source
branch of the edit reads them instead of evaluating the UNet again.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from diffusers import AutoencoderKL, DDIMScheduler

from layeredit.engine.designedit.denoiser import Denoiser


@dataclass
class Trajectory:
    """``latents[j]`` is the picture at the noise level of ``timesteps[j]``; ``latents[-1]`` is clean.

    Denoising step ``i`` (counted from 1) takes level ``i - 1`` to level ``i``.
    """

    latents: list[torch.Tensor]  # each (1, C, h, w), float32


def image_to_tensor(image: np.ndarray, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    pixels = torch.from_numpy(np.ascontiguousarray(image)).to(device=device, dtype=torch.float32)
    return (pixels.permute(2, 0, 1)[None] / 127.5 - 1.0).to(dtype)


@torch.no_grad()
def encode(vae: AutoencoderKL, images: list[np.ndarray]) -> torch.Tensor:
    """Latents (batch, C, h, w) in float32: the posterior mean times the VAE's scaling factor."""
    batch = torch.cat([image_to_tensor(image, vae.device, vae.dtype) for image in images])
    return vae.encode(batch).latent_dist.mean.float() * vae.config.scaling_factor


@torch.no_grad()
def decode(vae: AutoencoderKL, latents: torch.Tensor) -> np.ndarray:
    """The first latent as an H x W x 3 uint8 picture."""
    pixels = vae.decode((latents / vae.config.scaling_factor).to(vae.dtype), return_dict=False)[0]
    pixels = ((pixels[0].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels.permute(1, 2, 0).cpu().numpy()


def level_alpha(scheduler: DDIMScheduler, timestep: int) -> torch.Tensor:
    """Cumulative alpha of a timestep; below 0 it is the scheduler's final alpha, as in its step."""
    return scheduler.alphas_cumprod[timestep] if timestep >= 0 else scheduler.final_alpha_cumprod


def previous_timestep(scheduler: DDIMScheduler, timestep: int) -> int:
    """The timestep ``DDIMScheduler.step`` denoises ``timestep`` to."""
    return timestep - scheduler.config.num_train_timesteps // scheduler.num_inference_steps


@torch.no_grad()
def ddim_invert(
    denoiser: Denoiser,
    scheduler: DDIMScheduler,
    clean: torch.Tensor,
    on_step: Callable[[int, int], None] | None = None,
) -> list[Trajectory]:
    """Invert a batch of clean latents along ``scheduler.timesteps`` (one UNet pass per step).

    Each step runs DDIM backwards: the noise predicted at the lower level is carried to the higher
    one with the same alphas ``DDIMScheduler.step`` uses, so denoising retraces the path.
    """
    dtype = denoiser.unet.dtype
    timesteps = [int(t) for t in scheduler.timesteps]
    levels = [clean.float()]
    latents = levels[0]
    for done, timestep in enumerate(reversed(timesteps), start=1):
        alpha_to = level_alpha(scheduler, timestep).to(latents.device)
        alpha_from = level_alpha(scheduler, previous_timestep(scheduler, timestep)).to(latents.device)
        eps = denoiser(latents.to(dtype), timestep).float()
        predicted_clean = (latents - (1 - alpha_from).sqrt() * eps) / alpha_from.sqrt()
        latents = alpha_to.sqrt() * predicted_clean + (1 - alpha_to).sqrt() * eps
        levels.append(latents)
        if on_step:
            on_step(done, len(timesteps))
    levels.reverse()
    return [Trajectory(latents=[level[row : row + 1] for level in levels]) for row in range(clean.shape[0])]


def picture_key(picture: np.ndarray) -> str:
    digest = hashlib.blake2b(picture.tobytes(), digest_size=16)
    digest.update(str(picture.shape).encode())
    return digest.hexdigest()


class InversionCache:
    """Least-recently-used store of trajectories keyed by (picture hash, model, steps, size)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, str, int, tuple[int, int]], Trajectory] = OrderedDict()

    def get(self, key: tuple[str, str, int, tuple[int, int]]) -> Trajectory | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: tuple[str, str, int, tuple[int, int]], trajectory: Trajectory) -> None:
        if self.capacity == 0:
            return
        self._items[key] = trajectory
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()
