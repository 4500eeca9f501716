"""What the HTTP routes do, without HTTP: validate edits, queue them, package their results."""

from __future__ import annotations

import base64
import io
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from layeredit.api import Box, check_names_used, edit, make_plan, named_masks, resolve_engine
from layeredit.engine.base import EditResult, Engine, ProgressCallback
from layeredit.engine.resolution import Strategy
from layeredit.errors import LayereditError, error_text
from layeredit.export import ora_bytes, psd_bytes, write_layers
from layeredit.hints import REST, speaking
from layeredit.plan import EditPlan, Target
from layeredit.server.points import GrabCutPointSegmenter, PointSegmenter
from layeredit.server.schemas import Downloads, EditResponse
from layeredit.server.tracking import masks_after_edit
from layeredit.server.uploads import (
    Limits,
    RequestError,
    decode_image,
    decode_mask,
    mask_name,
    parse_boxes,
    png_bytes,
    png_data_url,
)
from layeredit.server.worker import Job, Worker
from layeredit.tools.resolve import MaskResolver, TargetNotFoundError

TEXT_SEGMENTATION_MISSING = (
    "segmenting by phrase needs the perception models (GroundingDINO for grounding and Segment Anything "
    "for masks), and this server was started without them; send a point (x, y) instead, or upload a mask"
)


@dataclass
class EditJob:
    image: np.ndarray
    plan: EditPlan
    masks: dict[str, np.ndarray]
    boxes: dict[str, Box]
    hd_strategy: Strategy = "auto"


@dataclass
class EditOutcome:
    result: EditResult
    masks: dict[str, np.ndarray]  # where each named object is after the edit
    image_png: bytes


class EditorService:
    """One engine and one set of segmenters shared by every request; model calls go through one worker."""

    def __init__(
        self,
        engine: str | Engine = "pixel",
        limits: Limits | None = None,
        point_segmenter: PointSegmenter | None = None,
        text_resolver: MaskResolver | None = None,
        keep_jobs: int = 32,
    ):
        self.engine = resolve_engine(engine)
        self.limits = limits or Limits()
        self.point_segmenter = point_segmenter or GrabCutPointSegmenter()
        self.text_resolver = text_resolver
        self.worker = Worker(keep=keep_jobs)

    # -- editing -----------------------------------------------------------------------------

    def prepare_edit(
        self,
        image: bytes | None,
        instruction: str | None,
        mask_files: Sequence[tuple[str | None, bytes]],
        boxes: str | None,
        hd_strategy: Strategy = "auto",
    ) -> EditJob:
        """Everything checkable before queueing, so a bad request fails at once with a clear 4xx."""
        if image is None:
            raise RequestError(400, "no image: attach the photo as the multipart file field 'image'")
        if not instruction or not instruction.strip():
            raise RequestError(400, "no instruction: send what to do in the form field 'instruction'")
        pixels = decode_image(image, self.limits)
        size = (pixels.shape[1], pixels.shape[0])
        masks = {}
        for filename, data in mask_files:
            name = mask_name(filename)
            masks[name] = decode_mask(data, name, size, self.limits)
        parsed_boxes = parse_boxes(boxes)
        try:
            plan = make_plan(instruction, size)
            check_names_used(named_masks(masks, parsed_boxes, size), plan)
        except LayereditError as exc:
            raise RequestError(422, error_text(exc)) from None
        return EditJob(image=pixels, plan=plan, masks=masks, boxes=parsed_boxes, hd_strategy=hd_strategy)

    def submit_edit(self, job: EditJob) -> Job:
        @speaking(REST)  # runs on the worker thread, which does not share the request's context
        def run(progress: ProgressCallback) -> EditOutcome:
            result = edit(
                job.image, job.plan, masks=job.masks, boxes=job.boxes, engine=self.engine, progress=progress,
                hd_strategy=job.hd_strategy,
            )
            named = {
                **job.masks,
                **named_masks(None, job.boxes, (job.image.shape[1], job.image.shape[0])).masks,
            }
            return EditOutcome(
                result=result, masks=masks_after_edit(named, result), image_png=png_bytes(result.image)
            )

        return self.worker.submit(run)

    def wait(self, job: Job) -> EditOutcome:
        job.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def finished_outcome(self, job_id: str) -> EditOutcome:
        job = self.worker.get(job_id)
        if job is None or not isinstance(job.result, EditOutcome):
            raise RequestError(
                404, f"no finished edit with id {job_id!r}; results are kept for the last few edits"
            )
        return job.result

    # -- segmentation ------------------------------------------------------------------------

    def segment(
        self, image: bytes | None, phrase: str | None, x: int | None, y: int | None
    ) -> tuple[np.ndarray, str]:
        """The mask of the object at (x, y) or named by ``phrase``, and the segmenter's name."""
        if image is None:
            raise RequestError(400, "no image: attach the photo as the multipart file field 'image'")
        point_given = x is not None and y is not None
        if not phrase and not point_given:
            raise RequestError(400, "say which object: send 'phrase' (e.g. 'the dog') or a point 'x' and 'y'")
        pixels = decode_image(image, self.limits)[..., :3]
        if point_given:
            segmenter = self.point_segmenter
            job = self.worker.submit(lambda progress: segmenter.segment_point(pixels, x, y))
            method = segmenter.name
        else:
            if self.text_resolver is None:
                raise RequestError(501, TEXT_SEGMENTATION_MISSING)
            resolver, target = self.text_resolver, Target(phrase=phrase)

            @speaking(REST)
            def find(progress: ProgressCallback) -> np.ndarray:
                return _union(resolver.resolve(pixels, target), target)

            job = self.worker.submit(find)
            method = "grounded-sam"
        job.wait()
        if job.error is not None:
            raise job.error
        return job.result, method

    # -- results -----------------------------------------------------------------------------

    def describe(self, job_id: str, outcome: EditOutcome, with_image: bool) -> EditResponse:
        result = outcome.result
        base = f"/v1/results/{job_id}"
        return EditResponse(
            id=job_id,
            plan=result.plan.model_dump(exclude_none=True),
            summary=result.plan.summary(),
            width=result.image.shape[1],
            height=result.image.shape[0],
            layers=[layer.name for layer in result.layers],
            masks={name: png_data_url(mask) for name, mask in outcome.masks.items()},
            timings=result.timings,
            stats=result.stats,
            downloads=Downloads(
                image=f"{base}/image.png",
                layers_zip=f"{base}/layers.zip",
                layers_psd=f"{base}/layers.psd",
                layers_ora=f"{base}/layers.ora",
            ),
            image=base64.b64encode(outcome.image_png).decode("ascii") if with_image else None,
        )

    @staticmethod
    def layers_zip(outcome: EditOutcome) -> bytes:
        """The same files ``layeredit edit --save-layers`` writes, zipped."""
        buffer = io.BytesIO()
        with tempfile.TemporaryDirectory(prefix="layeredit-layers-") as folder:
            written = write_layers(outcome.result, Path(folder))
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in written:
                    archive.write(path, arcname=path.name)
        return buffer.getvalue()

    @staticmethod
    def layers_psd(outcome: EditOutcome) -> bytes:
        return psd_bytes(outcome.result.layers)

    @staticmethod
    def layers_ora(outcome: EditOutcome) -> bytes:
        return ora_bytes(outcome.result.layers)


def _union(masks: list[np.ndarray], target: Target) -> np.ndarray:
    if not masks:
        raise TargetNotFoundError(f"found no '{target.phrase}' in the image; click on it or upload its mask")
    return np.logical_or.reduce(masks)
