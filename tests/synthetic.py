"""A synthetic photo with one clear object (a red blob on a noisy green-grey gradient), for marking tests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

WIDTH, HEIGHT = 320, 240
INSIDE = (150, 125)  # a pixel well inside the object
AROUND = (80, 70, 240, 180)  # a box around the object with a margin


def object_mask() -> np.ndarray:
    """The object's pixels: an ellipse with a square block on its right."""
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    blob = ((xx - 150) / 60) ** 2 + ((yy - 125) / 45) ** 2 <= 1
    return blob | ((xx >= 190) & (xx < 230) & (yy >= 100) & (yy < 150))


def picture() -> np.ndarray:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    background = np.dstack([90 + 60 * xx / WIDTH, 150 + 40 * yy / HEIGHT, np.full(xx.shape, 120.0)])
    pixels = background + rng.normal(0, 6, (HEIGHT, WIDTH, 3))
    inside = object_mask()
    pixels[inside] = np.array([200.0, 40.0, 40.0]) + rng.normal(0, 6, (int(inside.sum()), 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8) * 255 if pixels.dtype == bool else pixels).save(buffer, "PNG")
    return buffer.getvalue()


def write_picture(folder: Path) -> Path:
    path = folder / "blob.png"
    path.write_bytes(png(picture()))
    return path


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))
