"""Reading and writing images with clear errors; every write is atomic."""

from __future__ import annotations

import glob
import io
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from layeredit.errors import BudgetError, LayereditError, clip

WRITABLE_SUFFIXES = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


class ImageFileError(LayereditError, ValueError):
    """An image that cannot be read or written; the message says which file and why."""


# One pixel budget for every entry point (CLI, API, chat, MCP, server): 40 megapixels, e.g. 8000x5000.
DEFAULT_MAX_PIXELS = 40_000_000
MAX_PIXELS_SETTING = "LAYEREDIT_MAX_PIXELS"
MAX_SIDE = 1_000_000  # the widest image size a plan can be made for; pixel amounts are fractions of it


def max_pixels() -> int:
    """The most pixels an image may have: ``$LAYEREDIT_MAX_PIXELS``, else :data:`DEFAULT_MAX_PIXELS`."""
    text = os.environ.get(MAX_PIXELS_SETTING, "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(float(text))
    except (ValueError, OverflowError):
        raise BudgetError(f"{MAX_PIXELS_SETTING} must be a number of pixels, got {clip(text)!r}") from None
    if value <= 0:
        raise BudgetError(f"{MAX_PIXELS_SETTING} must be positive, got {value}")
    return value


def check_budget(size: tuple[int, int], what: str, limit: int | None = None, setting: str = "") -> None:
    """Refuse an image of ``size`` (width, height) over the pixel budget, naming how to raise it."""
    limit = max_pixels() if limit is None else limit
    width, height = size
    if width * height > limit:
        raise BudgetError(
            f"{what} is {width}x{height} ({width * height / 1e6:.3g} megapixels), over the limit of "
            f"{limit / 1e6:.3g} megapixels; scale it down or raise {setting or MAX_PIXELS_SETTING}"
        )


class PixelBudget:
    """The pixel budget of many images read for one purpose (the layers of a scene): each image
    within the limit, and all of them together within ``images`` times it, checked as each one's
    size becomes known, so memory stays bounded however many there are."""

    def __init__(self, what: str, images: int, limit: int | None = None):
        self.what, self.images = what, images
        self.limit = max_pixels() if limit is None else limit
        self.used = 0

    def take(self, size: tuple[int, int], what: str) -> None:
        """Count an image of ``size`` (width, height), named ``what`` in messages."""
        check_budget(size, what, self.limit)
        self.used += size[0] * size[1]
        if self.used > self.images * self.limit:
            raise BudgetError(
                f"{self.what} hold more than {self.images} x {self.limit / 1e6:.3g} megapixels together; "
                f"use fewer or smaller layers, or raise {MAX_PIXELS_SETTING}"
            )


def open_image(source: str | Path | bytes, what: str = "image", limit: int | None = None,
               setting: str = "") -> Image.Image:  # fmt: skip
    """Open and decode an image file or bytes, upright by its EXIF orientation, within the budget.

    The size is checked from the header, before any pixel is decoded. ``what`` names the image in
    messages ("image", "mask file").
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        name = f"{what} {clip(str(path))}"
        try:
            if not path.is_file():
                raise ImageFileError(f"{what} not found: {clip(str(path))}")
            if path.stat().st_size == 0:
                raise ImageFileError(f"{what} is empty (0 bytes): {clip(str(path))}")
            stream: BinaryIO = path.open("rb")
        except OSError as exc:  # a name too long for the file system, a file we may not read
            raise ImageFileError(f"cannot open {name} ({exc.strerror})") from None
    else:
        name = what
        if not source:
            raise ImageFileError(f"{what} is empty (0 bytes)")
        stream = io.BytesIO(source)
    limit = max_pixels() if limit is None else limit
    with stream:
        try:
            # PIL's bomb check follows the budget (never below the default: it is process-wide),
            # a backstop behind the check of the header below.
            Image.MAX_IMAGE_PIXELS = max(limit, DEFAULT_MAX_PIXELS)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = Image.open(stream)
        except Image.DecompressionBombError as exc:
            raise BudgetError(
                f"{name} is far over the limit of {limit / 1e6:.3g} megapixels ({exc}); scale it down "
                f"or raise {setting or MAX_PIXELS_SETTING}"
            ) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            # PIL names what it read: the path (already in the message) or a BytesIO object's repr,
            # which tells a person nothing, so its "cannot identify" message is left out.
            why = "" if isinstance(exc, UnidentifiedImageError) else f" ({clip(str(exc))})"
            raise ImageFileError(
                f"cannot read {name}: not a readable image{why}; use a PNG, JPEG or WebP file"
            ) from None
        check_budget(image.size, name, limit, setting)
        try:
            image.load()
            return ImageOps.exif_transpose(image)
        except (OSError, SyntaxError, ValueError, EOFError, TypeError) as exc:
            raise ImageFileError(f"{name} is corrupt or truncated ({clip(str(exc))})") from None


def to_8bit(array: np.ndarray, depth: int | None = None) -> np.ndarray:
    """Samples of any depth as uint8: 16-bit and 32-bit integers scaled down, floats in [0, 1] scaled up.

    ``depth`` is the largest value integer samples can take; without it, it is told from the values.
    """
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        values = np.nan_to_num(array.astype(np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        if values.size and values.min() >= 0.0 and values.max() <= 1.0:
            values = values * 255.0
        return np.clip(np.round(values), 0, 255).astype(np.uint8)
    values = array.astype(np.int64)
    top = int(values.max()) if values.size else 0
    if depth is None and top > 255:  # 16-bit samples (or 32-bit ones that use more)
        depth = 65535 if top <= 65535 else 2**31 - 1
    if depth is not None and depth > 255:  # scale the depth down rather than clip it to white
        values = values * 255 // depth
    return np.clip(values, 0, 255).astype(np.uint8)


def pil_to_array(image: Image.Image, keep_alpha: bool = False) -> np.ndarray:
    """H x W x 3 uint8 RGB (x 4 RGBA with ``keep_alpha`` when the image has transparency) from any mode."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        gray = to_8bit(np.asarray(image), 65535 if image.mode.startswith("I;16") else None)
        return np.repeat(gray[..., None], 3, axis=2)
    if keep_alpha and has_transparency(image):
        return np.asarray(image.convert("RGBA")).copy()
    return np.asarray(image.convert("RGB")).copy()


def has_transparency(image: Image.Image) -> bool:
    """Whether some pixel of ``image`` is not fully opaque."""
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        alpha = image.convert("RGBA").getchannel("A")
        return alpha.getextrema()[0] < 255
    return False


def load_image(path: str | Path, keep_alpha: bool = False) -> np.ndarray:
    """Read an image as H x W x 3 uint8 RGB, upright according to its EXIF orientation.

    With ``keep_alpha`` an image with transparency comes back as H x W x 4 RGBA.
    """
    return pil_to_array(open_image(path), keep_alpha)


def as_rgb_array(image: str | Path | Image.Image | np.ndarray, keep_alpha: bool = False) -> np.ndarray:
    """Accept a path, a PIL image or an array and return H x W x 3 uint8 RGB (or RGBA, see load_image).

    A PIL image is turned upright by its EXIF orientation, as a file would be.
    """
    if isinstance(image, (str, Path)):
        return load_image(image, keep_alpha)
    if isinstance(image, Image.Image):
        check_budget(image.size, "image")
        return pil_to_array(ImageOps.exif_transpose(image), keep_alpha)
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4) or 0 in array.shape:
        raise ImageFileError(f"expected an H x W x 3 RGB array, got shape {array.shape}")
    check_budget((array.shape[1], array.shape[0]), "image")
    if array.dtype.kind not in "biuf":
        raise ImageFileError(f"expected an image array of numbers, got {array.dtype}")
    if array.dtype.kind == "i" and array.size and array.min() < 0:
        raise ImageFileError(f"image samples must not be negative (the array holds {array.min()})")
    array = to_8bit(array)
    has_alpha = array.shape[2] == 4 and bool((array[..., 3] < 255).any())
    return np.ascontiguousarray(array if keep_alpha and has_alpha else array[..., :3])


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


STALE_SECONDS = 3600  # a temporary file this old belongs to a write that was killed


def clear_stale_temps(path: Path, now: float | None = None) -> list[Path]:
    """Remove the ``.NAME.*.tmp`` files an interrupted atomic write of ``path`` left beside it
    (only those older than :data:`STALE_SECONDS`, so a write under way keeps its file)."""
    now = time.time() if now is None else now
    removed = []
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            if now - leftover.lstat().st_mtime > STALE_SECONDS:
                leftover.unlink()
                removed.append(leftover)
        except FileNotFoundError:  # another writer cleaned it first
            continue
    return removed


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write through a temporary file in the same folder, then rename over ``path`` (first clearing
    the temporary files of earlier writes of ``path`` that a crash left behind)."""
    clear_stale_temps(path)
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
