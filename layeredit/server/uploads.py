"""Turning uploaded bytes into images and masks, with limits and errors a client can act on."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import numpy as np
from PIL import Image

from layeredit.api import Box
from layeredit.engine.resolution import ResolutionParams
from layeredit.errors import BudgetError, InputError, LayereditError
from layeredit.imageio import open_image, pil_to_array
from layeredit.tools.masks import MaskError, check_mask_size, mask_from_image
from layeredit.tools.resolve import parse_box


@dataclass(frozen=True)
class Limits:
    """What one request may carry; larger requests get a 413 before any work is done."""

    max_request_bytes: int = 40 * 2**20
    max_image_side: int = 4096
    max_image_pixels: int = 4096 * 4096


class RequestError(LayereditError):
    """A request the server will not process; ``status`` is the HTTP code, the message says why."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _open(data: bytes, what: str, limits: Limits) -> Image.Image:
    try:
        return open_image(data, what, limits.max_image_pixels, "the server's --max-pixels")
    except BudgetError as exc:
        raise RequestError(413, str(exc)) from None
    except LayereditError as exc:
        raise RequestError(422 if data else 400, str(exc)) from None


def decode_image(data: bytes, limits: Limits, what: str = "image") -> np.ndarray:
    """H x W x 3 uint8 RGB (x 4 RGBA when it has transparency), upright by its EXIF orientation."""
    image = _open(data, what, limits)
    width, height = image.size
    if max(width, height) > limits.max_image_side:
        raise RequestError(
            413, f"{what} is {width}x{height}; the server accepts at most {limits.max_image_side} px a side"
        )
    return pil_to_array(image, keep_alpha=True)


def decode_mask(
    data: bytes, name: str, size: tuple[int, int], limits: Limits, filename: str | None = None
) -> np.ndarray:
    """A bool mask (white, 1 or opaque = object) that must match the image's (width, height).

    Messages name the uploaded file (``filename``) as well as the object, so the sender knows which
    of their files it was.
    """
    what = f"mask {name!r}" if not filename else f"mask file {PurePath(filename).name!r} (for {name!r})"
    mask = mask_from_image(_open(data, what, limits))
    try:
        check_mask_size(mask, size, what)
    except MaskError as exc:
        raise RequestError(422, str(exc)) from None
    return mask


def mask_name(filename: str | None) -> str:
    """The object a mask file marks, from its file name: ``boy.png`` marks "boy"."""
    name = PurePath(filename or "").stem.strip()
    if not name:
        raise RequestError(400, "a mask file has no name; name each mask file after its object, e.g. boy.png")
    return name


def parse_boxes(text: str | None) -> dict[str, Box]:
    """``{"cat": [x0, y0, x1, y1]}`` in pixels, as sent in the ``boxes`` form field."""
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raw = None
    if not isinstance(raw, dict):
        raise RequestError(
            422, 'boxes must be a JSON object like {"cat": [10, 20, 200, 240]} (x0, y0, x1, y1 in pixels)'
        )
    try:
        return {str(name): parse_box(str(name), box) for name, box in raw.items()}
    except MaskError as exc:
        raise RequestError(422, str(exc)) from None


def check_resolution(given: Mapping[str, Any]) -> dict[str, Any]:
    """The resolution options a client gave, by name, once they pass ResolutionParams' own checks."""
    try:
        ResolutionParams(**given)
    except InputError as exc:
        raise RequestError(422, str(exc)) from None
    return dict(given)


def png_bytes(pixels: np.ndarray) -> bytes:
    """PNG of an RGB/RGBA image, or of a bool mask as black and white."""
    if pixels.dtype == bool:
        pixels = pixels.astype(np.uint8) * 255
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def png_data_url(pixels: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(pixels)).decode("ascii")
