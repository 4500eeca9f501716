"""Reading and writing images with clear errors; every write is atomic."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

WRITABLE_SUFFIXES = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


class ImageFileError(ValueError):
    """An image that cannot be read or written; the message says which file and why."""


def load_image(path: str | Path) -> np.ndarray:
    """Read an image as H x W x 3 uint8 RGB, upright according to its EXIF orientation."""
    path = Path(path)
    if not path.is_file():
        raise ImageFileError(f"image not found: {path}")
    try:
        with Image.open(path) as img:
            img.load()
            return np.asarray(ImageOps.exif_transpose(img).convert("RGB")).copy()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImageFileError(
            f"cannot read {path} as an image ({exc}); is it a PNG, JPEG or WebP file?"
        ) from None


def as_rgb_array(image: str | Path | Image.Image | np.ndarray) -> np.ndarray:
    """Accept a path, a PIL image or an array and return H x W x 3 uint8 RGB."""
    if isinstance(image, (str, Path)):
        return load_image(image)
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB")).copy()
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ImageFileError(f"expected an H x W x 3 RGB array, got shape {array.shape}")
    if array.dtype != np.uint8:
        raise ImageFileError(f"expected a uint8 image array, got {array.dtype}")
    return np.ascontiguousarray(array[..., :3])


def check_writable(path: str | Path) -> str:
    """The PIL format for ``path``; raises if the suffix is unknown or the folder is missing."""
    path = Path(path)
    fmt = WRITABLE_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(WRITABLE_SUFFIXES))
        raise ImageFileError(f"cannot tell the image format of {path}; use one of: {known}")
    if not path.parent.resolve().is_dir():
        raise ImageFileError(f"output folder does not exist: {path.parent}")
    return fmt


def save_image(image: np.ndarray | Image.Image, path: str | Path) -> Path:
    """Write an image atomically: a reader never sees a half-written file."""
    path = Path(path)
    fmt = check_writable(path)
    pil = image if isinstance(image, Image.Image) else Image.fromarray(image)
    if fmt == "JPEG" and pil.mode == "RGBA":
        pil = pil.convert("RGB")
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    write_atomically(path, lambda handle: pil.save(handle, format=fmt, **options))
    return path


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        # mkstemp makes the file private; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
