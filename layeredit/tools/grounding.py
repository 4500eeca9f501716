"""Open-vocabulary detection: a phrase ("red car") to scored boxes in an image.

The default backend is GroundingDINO through ``transformers``; the ``groundingdino-py`` package
(extra ``[original]``) runs the original ``.pth`` checkpoints behind the same interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from layeredit.errors import ModelLoadError
from layeredit.tools.defaults import DEFAULT_BOX_THRESHOLD, DEFAULT_GROUNDING_MODEL, DEFAULT_TEXT_THRESHOLD
from layeredit.tools.models import default_device, first_line, load_once, require_package

DEFAULT_NMS_IOU = 0.5

# Common things in photos. When a phrase matches nothing, the detector is asked for these (plus
# the phrase) at a low threshold, so the error can say what *is* there: "saw: chair 0.41".
SURVEY_VOCABULARY = (
    "person", "cat", "dog", "bird", "horse", "car", "bicycle", "boat", "chair", "table", "sofa", "bed",
    "lamp", "plant", "flower", "tree", "bottle", "cup", "bowl", "book", "clock", "vase", "ball", "bag",
    "sign", "window", "door", "picture", "building", "toy",
)

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Detection:
    """A box (x0, y0, x1, y1 in pixels) the detector found for ``label`` with confidence ``score``."""

    box: Box
    score: float
    label: str

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)


class Grounder(Protocol):
    def detect(
        self, image: np.ndarray, phrases: str | Sequence[str], threshold: float | None = None
    ) -> list[Detection]:
        """Boxes for one phrase or several in ``image`` (H x W x 3 uint8 RGB), best first, without
        duplicates; each is labelled with the phrase it matches best.

        ``threshold`` replaces the detector's box and text thresholds for this call.
        """
        ...


def caption_for(phrases: Sequence[str]) -> str:
    """GroundingDINO's prompt format: lower case, one phrase per sentence ("cat. red car.")."""
    return " ".join(phrase.replace(".", " ").strip().lower() + "." for phrase in phrases)


def survey_phrases(phrase: str) -> list[str]:
    """The phrase plus the common-things vocabulary, for reporting what an image holds."""
    return [phrase, *(word for word in SURVEY_VOCABULARY if word != phrase.strip().lower())]


def box_iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def suppress_duplicates(
    detections: Sequence[Detection], iou_threshold: float = DEFAULT_NMS_IOU
) -> list[Detection]:
    """Greedy non-maximum suppression: best first, dropping boxes overlapping a kept one too much."""
    kept: list[Detection] = []
    for detection in sorted(detections, key=lambda d: d.score, reverse=True):
        if all(box_iou(detection.box, other.box) <= iou_threshold for other in kept):
            kept.append(detection)
    return kept


def phrase_token_positions(input_ids: Sequence[int], tokenizer: Any) -> list[list[int]]:
    """Token positions of each "."-separated phrase of a tokenized caption, in caption order."""
    period_id = tokenizer.convert_tokens_to_ids(".")
    special_ids = set(tokenizer.all_special_ids)
    spans: list[list[int]] = []
    current: list[int] = []
    for position, token in enumerate(input_ids):
        if token == period_id:
            if current:
                spans.append(current)
            current = []
        elif token not in special_ids:
            current.append(position)
    if current:
        spans.append(current)
    return spans


@dataclass(frozen=True)
class GroundingThresholds:
    """``box``: least confidence for a box. ``text``: least token confidence for a box to be named
    after a phrase (GroundingDINO's text threshold); unnamed boxes are dropped. ``nms_iou``: overlap
    above which the weaker of two boxes is a duplicate."""

    box: float = DEFAULT_BOX_THRESHOLD
    text: float = DEFAULT_TEXT_THRESHOLD
    nms_iou: float = DEFAULT_NMS_IOU


def detections_from_scores(
    token_probs: torch.Tensor,
    boxes_cxcywh: torch.Tensor,
    spans: Sequence[Sequence[int]],
    phrases: Sequence[str],
    image_shape: tuple[int, ...],
    thresholds: GroundingThresholds,
    threshold: float | None = None,
) -> list[Detection]:
    """Boxes from GroundingDINO's raw outputs, each labelled with the phrase it matches best.

    ``token_probs`` is (queries, text tokens) after the sigmoid; ``boxes_cxcywh`` is (queries, 4),
    normalised to the image. ``threshold`` replaces both the box and text thresholds.
    """
    # A caption cut at the model's max_text_len loses its last phrases.
    spans, phrases = spans[: len(phrases)], phrases[: len(spans)]
    if not spans:
        return []
    per_phrase = torch.stack([token_probs[:, list(span)].max(dim=-1).values for span in spans], dim=-1)
    scores, best = per_phrase.max(dim=-1)
    least = max(thresholds.box, thresholds.text) if threshold is None else threshold
    height, width = image_shape[:2]
    cx, cy, bw, bh = boxes_cxcywh.float().unbind(-1)
    corners = torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], dim=-1)
    corners = (corners * torch.tensor([width, height, width, height])).clamp(min=0)
    corners = torch.minimum(corners, torch.tensor([width, height, width, height], dtype=corners.dtype))
    found = [
        Detection(box=tuple(corners[q].tolist()), score=float(scores[q]), label=phrases[int(best[q])])
        for q in torch.nonzero(scores > least).flatten().tolist()
        if corners[q, 2] > corners[q, 0] and corners[q, 3] > corners[q, 1]
    ]
    return suppress_duplicates(found, thresholds.nms_iou)


class TransformersGrounder:
    """GroundingDINO from the hub or a local ``save_pretrained`` folder, via ``transformers``."""

    def __init__(
        self,
        model: str = DEFAULT_GROUNDING_MODEL,
        device: str | None = None,
        thresholds: GroundingThresholds | None = None,
    ):
        self.device = device or default_device()
        self.thresholds = thresholds or GroundingThresholds()
        self.processor, self.model = load_once(
            "grounding", model, self.device, lambda: _load_transformers_grounding(model, self.device)
        )

    @torch.inference_mode()
    def detect(
        self, image: np.ndarray, phrases: str | Sequence[str], threshold: float | None = None
    ) -> list[Detection]:
        phrases = [phrases] if isinstance(phrases, str) else list(phrases)
        inputs = self.processor(images=image, text=caption_for(phrases), return_tensors="pt").to(self.device)
        outputs = self.model(**inputs)
        spans = phrase_token_positions(inputs["input_ids"][0].tolist(), self.processor.tokenizer)
        return detections_from_scores(
            outputs.logits[0].sigmoid().cpu(), outputs.pred_boxes[0].cpu(), spans, phrases, image.shape,
            self.thresholds, threshold,
        )


def _load_transformers_grounding(model: str, device: str) -> tuple[Any, Any]:
    from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

    processor = AutoProcessor.from_pretrained(model)
    detector = AutoModelForZeroShotObjectDetection.from_pretrained(model).to(device).eval()
    return processor, detector


class OriginalGroundingDino:
    """GroundingDINO's original code (``groundingdino-py``) with an official ``.pth`` checkpoint.

    ``config`` is the model's Python config file; by default the package's SwinB config for a
    checkpoint named like ``*swinb*``, else its SwinT-OGC config.
    """

    def __init__(
        self,
        checkpoint: str,
        config: str | None = None,
        device: str | None = None,
        thresholds: GroundingThresholds | None = None,
    ):
        self.device = device or default_device()
        self.thresholds = thresholds or GroundingThresholds()
        config = config or _bundled_grounding_config(checkpoint)
        self.model = load_once(
            "grounding", checkpoint, self.device,
            lambda: _load_original_grounding(checkpoint, config, self.device), variant=config,
        )

    @torch.inference_mode()
    def detect(
        self, image: np.ndarray, phrases: str | Sequence[str], threshold: float | None = None
    ) -> list[Detection]:
        phrases = [phrases] if isinstance(phrases, str) else list(phrases)
        caption = caption_for(phrases)
        pixels = _original_grounding_input(image).to(self.device)
        outputs = self.model(pixels[None], captions=[caption])
        spans = phrase_token_positions(self.model.tokenizer(caption)["input_ids"], self.model.tokenizer)
        return detections_from_scores(
            outputs["pred_logits"][0].sigmoid().cpu(), outputs["pred_boxes"][0].cpu(), spans, phrases,
            image.shape, self.thresholds, threshold,
        )


def _bundled_grounding_config(checkpoint: str) -> str:
    import groundingdino

    swin_b = "swinb" in Path(checkpoint).name.lower()
    name = "GroundingDINO_SwinB_cfg.py" if swin_b else "GroundingDINO_SwinT_OGC.py"
    return str(Path(groundingdino.__file__).parent / "config" / name)


def _load_original_grounding(checkpoint: str, config: str, device: str) -> Any:
    from groundingdino.models import build_model
    from groundingdino.util.slconfig import SLConfig
    from groundingdino.util.utils import clean_state_dict

    from layeredit.tools.grounding_compat import compatible_groundingdino

    try:
        args = SLConfig.fromfile(config)
        args.device = device
        with compatible_groundingdino():
            model = build_model(args)
        # Official checkpoints carry extra keys (e.g. position ids); the package loads non-strictly.
        state = torch.load(checkpoint, map_location="cpu")["model"]
        model.load_state_dict(clean_state_dict(state), strict=False)
        return model.eval().to(device)
    except AttributeError as exc:
        # groundingdino-py wraps BertModel internals that transformers 5 removed.
        raise ModelLoadError(
            f"the groundingdino-py package cannot build its model with this transformers version "
            f"({first_line(exc)}); use the transformers backend instead: "
            f"--grounding-model {DEFAULT_GROUNDING_MODEL} (the same weights, converted)"
        ) from exc


def _original_grounding_input(image: np.ndarray) -> torch.Tensor:
    import groundingdino.datasets.transforms as T
    from PIL import Image

    # The resize and normalisation the original model was trained with.
    transform = T.Compose([
        T.RandomResize([800], max_size=1333),
        T.ToTensor(),
        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    tensor, _ = transform(Image.fromarray(image), None)
    return tensor


def make_grounder(
    model: str | None = None, device: str | None = None, thresholds: GroundingThresholds | None = None
) -> Grounder:
    """The grounder ``model`` names: a ``.pth`` checkpoint runs ``groundingdino-py``; anything else
    (hub id or local folder) runs ``transformers``. Default: ``IDEA-Research/grounding-dino-tiny``."""
    model = model or DEFAULT_GROUNDING_MODEL
    if model.endswith(".pth"):
        require_package("groundingdino", "groundingdino-py", model)
        return OriginalGroundingDino(model, device=device, thresholds=thresholds)
    return TransformersGrounder(model, device=device, thresholds=thresholds)
