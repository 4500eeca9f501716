"""Layered latent fusion (docs/method.md step 6): shift layer latents by whole latent pixels and paste
them onto the canvas in z-order."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from layeredit.engine.designedit.inversion import Trajectory


def shift_latent(tensor: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Translate ``(..., h, w)`` by whole pixels; what leaves the frame is cropped, new area is zero."""
    out = torch.zeros_like(tensor)
    height, width = tensor.shape[-2:]
    if abs(dx) >= width or abs(dy) >= height:
        return out
    out[..., max(0, dy) : height - max(0, -dy), max(0, dx) : width - max(0, -dx)] = tensor[
        ..., max(0, -dy) : height - max(0, dy), max(0, -dx) : width - max(0, dx)
    ]
    return out


@dataclass
class LatentLayer:
    """An object layer in latent space: its picture's trajectory, object mask and displacement."""

    trajectory: Trajectory
    mask: torch.Tensor  # (1, 1, h, w) in {0, 1}, the object in its own picture
    shift: tuple[int, int]  # (dx, dy) in latent pixels

    def placed_mask(self) -> torch.Tensor:
        return shift_latent(self.mask, *self.shift)

    def placed_latent(self, level: int) -> torch.Tensor:
        return shift_latent(self.trajectory.latents[level], *self.shift)


def fuse(base: torch.Tensor, layers: list[LatentLayer], level: int) -> torch.Tensor:
    """Paste each layer's latent at ``level`` over ``base``, bottom to top: base·(1−m) + layer·m."""
    canvas = base
    for layer in layers:
        mask = layer.placed_mask()
        canvas = canvas * (1 - mask) + layer.placed_latent(level) * mask
    return canvas
