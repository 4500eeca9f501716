"""Box to mask with Segment Anything, predictor style.

``set_image`` computes the image embedding (the expensive part) once; ``predict`` then turns any
number of boxes into masks from that embedding. Setting the same picture again is free, so one
segmenter serves every target of a plan. A segmenter holds per-image state: give each thread its
own (the model weights underneath are shared, see :mod:`layeredit.tools.models`).

Default backend: ``transformers`` SAM (hub id or ``save_pretrained`` folder). Optional backend:
the ``segment-anything`` package with an official ``.pth`` checkpoint (extra ``[original]``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from layeredit.errors import ModelLoadError
from layeredit.tools.defaults import DEFAULT_SAM_MODEL
from layeredit.tools.grounding import Box
from layeredit.tools.models import default_device, load_once, require_package

ORIGINAL_SAM_TYPES = ("vit_h", "vit_l", "vit_b")


class Segmenter(Protocol):
    def set_image(self, image: np.ndarray) -> None:
        """Embed ``image`` (H x W x 3 uint8 RGB) for the following :meth:`predict` calls."""
        ...

    def predict(self, boxes: Sequence[Box]) -> list[np.ndarray]:
        """One bool H x W mask per (x0, y0, x1, y1) box, in the order given."""
        ...

    def predict_point(self, x: float, y: float) -> np.ndarray:
        """The bool H x W mask of the object under pixel (x, y) of the current image."""
        ...


def image_fingerprint(image: np.ndarray) -> tuple[tuple[int, ...], str]:
    return image.shape, hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=16).hexdigest()


class _EmbeddingOnce:
    """Skips re-embedding a picture that is already set."""

    _fingerprint: tuple[tuple[int, ...], str] | None = None

    def set_image(self, image: np.ndarray) -> None:
        fingerprint = image_fingerprint(image)
        if fingerprint != self._fingerprint:
            self._embed(image)
            self._fingerprint = fingerprint

    def _embed(self, image: np.ndarray) -> None:
        raise NotImplementedError

    def _require_image(self) -> None:
        if self._fingerprint is None:
            raise RuntimeError("call set_image(image) before predicting masks")


class TransformersSegmenter(_EmbeddingOnce):
    """SAM from the hub or a local ``save_pretrained`` folder, via ``transformers``."""

    def __init__(self, model: str = DEFAULT_SAM_MODEL, device: str | None = None):
        self.device = device or default_device()
        self.processor, self.model = load_once(
            "sam", model, self.device, lambda: _load_transformers_sam(model, self.device)
        )

    @torch.inference_mode()
    def _embed(self, image: np.ndarray) -> None:
        encoding = self.processor(images=image, return_tensors="pt")
        self.original_sizes = encoding["original_sizes"]
        self.reshaped_sizes = encoding["reshaped_input_sizes"]
        self.embeddings = self.model.get_image_embeddings(encoding["pixel_values"].to(self.device))

    @torch.inference_mode()
    def predict(self, boxes: Sequence[Box]) -> list[np.ndarray]:
        self._require_image()
        if not boxes:
            return []
        # Boxes are in original pixels; the model wants them in the resized picture's pixels.
        height, width = self.original_sizes[0].tolist()
        new_height, new_width = self.reshaped_sizes[0].tolist()
        scale = torch.tensor([new_width / width, new_height / height] * 2)
        prompt = (torch.tensor(boxes, dtype=torch.float32) * scale)[None].to(self.device)
        # One mask per box: with a box prompt SAM's single-mask output is the intended one.
        outputs = self.model(image_embeddings=self.embeddings, input_boxes=prompt, multimask_output=False)
        masks = self.processor.image_processor.post_process_masks(
            outputs.pred_masks.cpu(), self.original_sizes, self.reshaped_sizes
        )[0]
        return [mask[0].numpy().astype(bool) for mask in masks]

    @torch.inference_mode()
    def predict_point(self, x: float, y: float) -> np.ndarray:
        self._require_image()
        height, width = self.original_sizes[0].tolist()
        new_height, new_width = self.reshaped_sizes[0].tolist()
        point = torch.tensor([[[[x * new_width / width, y * new_height / height]]]], dtype=torch.float32)
        outputs = self.model(
            image_embeddings=self.embeddings,
            input_points=point.to(self.device),
            input_labels=torch.ones(1, 1, 1, dtype=torch.long, device=self.device),
            multimask_output=True,  # a click is ambiguous (part or whole): keep SAM's best guess
        )
        masks = self.processor.image_processor.post_process_masks(
            outputs.pred_masks.cpu(), self.original_sizes, self.reshaped_sizes
        )[0][0]
        return masks[int(outputs.iou_scores[0, 0].argmax())].numpy().astype(bool)


def _load_transformers_sam(model: str, device: str) -> tuple[Any, Any]:
    from transformers import SamModel, SamProcessor

    return SamProcessor.from_pretrained(model), SamModel.from_pretrained(model).to(device).eval()


class OriginalSamSegmenter(_EmbeddingOnce):
    """Segment Anything's own code (``segment-anything``) with an official ``.pth`` checkpoint.

    ``model_type`` ("vit_h", "vit_l", "vit_b", or any key of ``sam_model_registry``) defaults to
    the one in the official file name (``sam_vit_b_01ec64.pth``).
    """

    def __init__(self, checkpoint: str, model_type: str | None = None, device: str | None = None):
        from segment_anything import SamPredictor

        self.device = device or default_device()
        model_type = model_type or original_sam_type(checkpoint)
        sam = load_once(
            "sam",
            checkpoint,
            self.device,
            lambda: _load_original_sam(checkpoint, model_type, self.device),
            variant=model_type,
        )
        self.predictor = SamPredictor(sam)

    def _embed(self, image: np.ndarray) -> None:
        self.predictor.set_image(image, image_format="RGB")

    @torch.inference_mode()
    def predict(self, boxes: Sequence[Box]) -> list[np.ndarray]:
        self._require_image()
        if not boxes:
            return []
        prompt = torch.tensor(boxes, dtype=torch.float32, device=self.predictor.device)
        prompt = self.predictor.transform.apply_boxes_torch(prompt, self.predictor.original_size)
        masks, _, _ = self.predictor.predict_torch(
            point_coords=None, point_labels=None, boxes=prompt, multimask_output=False
        )
        return [mask[0].cpu().numpy().astype(bool) for mask in masks]

    def predict_point(self, x: float, y: float) -> np.ndarray:
        self._require_image()
        masks, scores, _ = self.predictor.predict(
            point_coords=np.array([[x, y]], dtype=np.float32),
            point_labels=np.array([1]),
            multimask_output=True,
        )
        return masks[int(np.argmax(scores))].astype(bool)


def original_sam_type(checkpoint: str) -> str:
    name = Path(checkpoint).name.lower()
    for model_type in ORIGINAL_SAM_TYPES:
        if model_type in name:
            return model_type
    raise ModelLoadError(
        f"cannot tell which Segment Anything model {checkpoint!r} holds; keep the official file name "
        f"(sam_vit_h_4b8939.pth, sam_vit_l_0b3195.pth or sam_vit_b_01ec64.pth)"
    )


def _load_original_sam(checkpoint: str, model_type: str, device: str) -> Any:
    from segment_anything import sam_model_registry

    if model_type not in sam_model_registry:
        known = ", ".join(sam_model_registry)
        raise ModelLoadError(f"unknown Segment Anything model type {model_type!r}; known: {known}")
    return sam_model_registry[model_type](checkpoint=checkpoint).to(device).eval()


def make_segmenter(model: str | None = None, device: str | None = None) -> Segmenter:
    """The segmenter ``model`` names: a ``.pth`` checkpoint runs ``segment-anything``; anything else
    (hub id or local folder) runs ``transformers``. Default: ``facebook/sam-vit-base``."""
    model = model or DEFAULT_SAM_MODEL
    if model.endswith(".pth"):
        require_package("segment_anything", "segment-anything", model)
        return OriginalSamSegmenter(model, device=device)
    return TransformersSegmenter(model, device=device)
