"""The UNet evaluated with the empty prompt, counting every latent it is asked about."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from diffusers import DiffusionPipeline


@dataclass
class EmptyPrompt:
    """Empty-prompt conditioning: token embeddings and, for SDXL, the pooled embedding."""

    embeds: torch.Tensor  # (1, tokens, dim)
    pooled: torch.Tensor | None  # (1, dim) for SDXL-style UNets, else None

    @classmethod
    def encode(cls, pipe: DiffusionPipeline, device: torch.device) -> EmptyPrompt:
        if is_sdxl(pipe):
            embeds, _, pooled, _ = pipe.encode_prompt(
                prompt="", device=device, num_images_per_prompt=1, do_classifier_free_guidance=False
            )
            return cls(embeds=embeds, pooled=pooled)
        embeds, _ = pipe.encode_prompt("", device, 1, False)
        return cls(embeds=embeds, pooled=None)


def is_sdxl(pipe: DiffusionPipeline) -> bool:
    return getattr(pipe.unet.config, "addition_embed_type", None) == "text_time"


@dataclass
class Denoiser:
    """``eps = unet(latents, t)`` with the empty prompt for every row.

    ``rows`` counts latents evaluated (the cost measure reported as ``unet_calls``); ``passes``
    counts UNet forward passes (one pass may carry several rows).
    """

    unet: torch.nn.Module
    prompt: EmptyPrompt
    vae_scale_factor: int = 8  # pixels per latent pixel, for SDXL's size conditioning
    rows: int = 0
    passes: int = 0
    _time_ids: dict[tuple[int, int], torch.Tensor] = field(default_factory=dict)

    def __call__(self, latents: torch.Tensor, timestep: torch.Tensor | int) -> torch.Tensor:
        batch = latents.shape[0]
        self.rows += batch
        self.passes += 1
        embeds = self.prompt.embeds.expand(batch, -1, -1)
        added = None
        if self.prompt.pooled is not None:
            added = {
                "text_embeds": self.prompt.pooled.expand(batch, -1),
                "time_ids": self._size_ids(latents).expand(batch, -1),
            }
        return self.unet(
            latents, timestep, encoder_hidden_states=embeds, added_cond_kwargs=added, return_dict=False
        )[0]

    def _size_ids(self, latents: torch.Tensor) -> torch.Tensor:
        """SDXL micro-conditioning: original size, crop (0, 0) and target size, all the canvas."""
        size = tuple(latents.shape[-2:])
        if size not in self._time_ids:
            height, width = size[0] * self.vae_scale_factor, size[1] * self.vae_scale_factor
            self._time_ids[size] = torch.tensor(
                [[height, width, 0, 0, height, width]], dtype=self.prompt.embeds.dtype,
                device=latents.device,
            )
        return self._time_ids[size]
