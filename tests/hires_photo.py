"""A phone-size photo synthesized from bundled pictures, for tests and bench/hires.py.

The bundled soccer photo (512x512) upscaled is smooth, so fine grain is added: scikit-image's
gravel texture, tiled. A small textured object (a disc of brick texture) sits on it, so an edit
of a small object in a 12-megapixel photo can be measured for sharpness.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from skimage import data

from layeredit.imageio import load_image
from layeredit.tools.masks import load_mask

SAMPLES = Path(__file__).resolve().parents[1] / "layeredit" / "samples"
GRAIN = 0.35  # how strongly the gravel texture modulates the photo


def _tiled(texture: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    width, height = size
    reps = (-(-height // texture.shape[0]), -(-width // texture.shape[1]))
    return np.tile(texture, reps)[:height, :width]


def phone_photo(
    size: tuple[int, int] = (4000, 3000), object_at: tuple[float, float] = (0.2, 0.3), object_radius: int = 80
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(width, height) RGB photo and masks: "boy" (the soccer sample's) and "stone", a small
    textured disc centred at ``object_at`` (fractions of the size)."""
    width, height = size
    image = cv2.resize(load_image(SAMPLES / "soccer" / "image.jpg"), size, interpolation=cv2.INTER_LINEAR)
    boy = cv2.resize(load_mask(SAMPLES / "soccer" / "boy.jpg").astype(np.uint8), size,
                     interpolation=cv2.INTER_NEAREST).astype(bool)
    grain = _tiled(data.grass().astype(np.float32) - 118.0, size)[..., None]
    photo = image.astype(np.float32) * (1 + GRAIN * grain / 128)
    stone = np.zeros((height, width), dtype=bool)
    cx, cy = round(object_at[0] * width), round(object_at[1] * height)
    cv2.circle(stone.view(np.uint8), (cx, cy), object_radius, 1, thickness=-1)
    brick = _tiled(data.brick().astype(np.float32), size)
    photo[stone] = np.stack([brick[stone] * 1.2, brick[stone] * 0.6, brick[stone] * 0.3], axis=-1)
    return np.clip(photo, 0, 255).astype(np.uint8), {"boy": boy, "stone": stone}
