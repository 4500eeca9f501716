"""The working frame: the input resized to the model's native area (aspect kept, sides a multiple
of what the UNet can halve), with the maps between input pixels, working pixels and latents."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

# Lives with the other window code, which the weight-free path imports without torch.
from layeredit.engine.window import keep_outside  # noqa: F401


def working_size(size: tuple[int, int], area_side: int, multiple: int) -> tuple[int, int]:
    """(width, height) with the area of an ``area_side`` square, the aspect of ``size``, sides
    rounded to ``multiple``."""
    width, height = size
    scale = math.sqrt(area_side * area_side / (width * height))
    return tuple(max(multiple, round(side * scale / multiple) * multiple) for side in (width, height))


@dataclass(frozen=True)
class Frame:
    input_size: tuple[int, int]  # (width, height) of the input image
    size: tuple[int, int]  # (width, height) the model works at
    latent_factor: int  # working pixels per latent pixel

    @property
    def latent_size(self) -> tuple[int, int]:
        """(height, width) of the latents."""
        return self.size[1] // self.latent_factor, self.size[0] // self.latent_factor

    def picture(self, image: np.ndarray) -> np.ndarray:
        """An input-sized picture resized to the working size."""
        shrinking = self.size[0] * self.size[1] < self.input_size[0] * self.input_size[1]
        return cv2.resize(image, self.size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)

    def to_input(self, picture: np.ndarray) -> np.ndarray:
        """A working-size picture resized back to the input size."""
        return cv2.resize(picture, self.input_size, interpolation=cv2.INTER_CUBIC)

    def latent_mask(self, mask: np.ndarray, min_coverage: float, device: torch.device) -> torch.Tensor:
        """(1, 1, h, w) {0, 1} float mask of the latent pixels an input mask covers by more than
        ``min_coverage`` of their area."""
        height, width = self.latent_size
        coverage = cv2.resize(mask.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
        return torch.from_numpy((coverage > min_coverage).astype(np.float32))[None, None].to(device)

    def latent_shift(self, offset: tuple[int, int]) -> tuple[int, int]:
        """An input-pixel offset in whole latent pixels, truncated toward zero like the reference
        code's ``int(scale * width)`` (a move of -0.2 at 1024 is 25 latent pixels, not 26)."""
        per_latent_x = self.input_size[0] / self.size[0] * self.latent_factor
        per_latent_y = self.input_size[1] / self.size[1] * self.latent_factor
        return int(offset[0] / per_latent_x), int(offset[1] / per_latent_y)

