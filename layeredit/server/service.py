"""What the HTTP routes do, without HTTP: validate edits, queue them, package their results."""

from __future__ import annotations

import base64
import functools
import io
import shutil
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from layeredit.api import check_names_used, default_planner, edit, make_plan, named_masks, resolve_engine
from layeredit.editing import Planner, masks_after_edit
from layeredit.engine.base import EditResult, Engine, ProgressCallback, RenderedLayer
from layeredit.errors import LayereditError, clip, error_text
from layeredit.export import ora_bytes, psd_bytes, psd_export_available
from layeredit.hints import REST, speaking
from layeredit.plan import EditPlan, Insert, Target
from layeredit.server.jobstore import JobStore, StoredRequest
from layeredit.server.schemas import Downloads, EditResponse, JobResponse
from layeredit.server.uploads import (
    Limits,
    RequestError,
    check_resolution,
    decode_image,
    decode_mask,
    mask_name,
    parse_boxes,
    png_data_url,
)
from layeredit.server.worker import Interrupted, Job, Worker, as_request_error, new_job_id
from layeredit.tools.points import GrabCutPointSegmenter, PointSegmenter
from layeredit.tools.resolve import MaskResolver, TargetNotFoundError

TEXT_SEGMENTATION_MISSING = (
    "segmenting by phrase needs the perception models (GroundingDINO for grounding and Segment Anything "
    "for masks), and this server was started without them; send a point (x, y) instead, or upload a mask"
)


@dataclass
class EditOutcome:
    result: EditResult
    masks: dict[str, np.ndarray]  # where each named object is after the edit


@dataclass(frozen=True)
class ServerStorage:
    """Where jobs are kept (``None``: a temporary folder removed at shutdown) and for how long;
    how many chat sessions may exist and how long an unused one is kept."""

    data_dir: Path | None = None
    retention_s: float = 24 * 3600
    max_waiting: int = 64
    max_sessions: int = 100  # chat sessions kept at once; one more is a 429
    session_retention_s: float = 7 * 24 * 3600  # a session unused this long is deleted with its files


class EditorService:
    """One engine and one set of segmenters shared by every request; model calls go through one worker."""

    def __init__(
        self,
        engine: str | Engine = "pixel",
        limits: Limits | None = None,
        point_segmenter: PointSegmenter | None = None,
        text_resolver: MaskResolver | None = None,
        keep_jobs: int = 32,
        storage: ServerStorage | None = None,
        planner: Planner | None = None,
    ):
        self.engine = resolve_engine(engine)
        self.planner = planner or default_planner()  # reads every instruction: edits, plans, chats
        self.limits = limits or Limits()
        self.point_segmenter = point_segmenter or GrabCutPointSegmenter()
        self.text_resolver = text_resolver
        storage = storage or ServerStorage()
        self._temporary = storage.data_dir is None
        folder = Path(tempfile.mkdtemp(prefix="layeredit-server-")) if self._temporary else storage.data_dir
        self.store = JobStore(folder, storage.retention_s)
        self.store.expire()
        self.worker = Worker(keep=keep_jobs, max_waiting=storage.max_waiting)
        for row in self.store.unfinished("edit"):  # accepted before a restart: they run first
            self.worker.submit(functools.partial(self._run_edit, row.id), row.id, bounded=False)

    def close(self) -> None:
        """Stop taking work; the running edit goes back to the queue on disk."""
        self.worker.close()
        self.store.close()
        if self._temporary:
            shutil.rmtree(self.store.folder, ignore_errors=True)

    # -- editing -----------------------------------------------------------------------------

    def prepare_edit(
        self,
        image: bytes | None,
        instruction: str | None,
        mask_files: Sequence[tuple[str | None, bytes]],
        boxes: str | None,
        source_files: Sequence[tuple[str | None, bytes]] = (),
        resolution: Mapping[str, Any] | None = None,
        refine_mask: bytes | None = None,
    ) -> StoredRequest:
        """Everything checkable before queueing, so a bad request fails at once with a clear 4xx.

        ``resolution``: the ResolutionParams fields the client gave, by name (the rest: the engine's).
        """
        if image is None:
            raise RequestError(400, "no image: attach the photo as the multipart file field 'image'")
        if not instruction or not instruction.strip():
            raise RequestError(400, "no instruction: send what to do in the form field 'instruction'")
        pixels = decode_image(image, self.limits)
        size = (pixels.shape[1], pixels.shape[0])
        masks = {}
        for filename, data in mask_files:
            name = mask_name(filename)
            masks[name] = decode_mask(data, name, size, self.limits, filename)
        parsed_boxes = parse_boxes(boxes)
        resolution = check_resolution(resolution or {})
        refine = None if refine_mask is None else decode_mask(refine_mask, "refine mask", size, self.limits)
        try:
            plan = make_plan(instruction, size, self.planner, pixels[..., :3])
            check_names_used(named_masks(masks, parsed_boxes, size), plan)
        except LayereditError as exc:
            raise RequestError(422, error_text(exc)) from None
        sources = self._insert_sources(plan, source_files)
        return StoredRequest(
            image=pixels, plan=plan, masks=masks, boxes=parsed_boxes, sources=sources,
            resolution=resolution, refine_mask=refine,
        )  # fmt: skip

    def _insert_sources(
        self, plan: EditPlan, source_files: Sequence[tuple[str | None, bytes]]
    ) -> dict[str, np.ndarray]:
        """The uploaded picture for each ``insert`` of the plan, by the source the plan names.

        The server never opens a file a client names: an insert's source must be an upload whose
        file name is the source's file name.
        """
        uploads = {PurePath(name or "").name: data for name, data in source_files}
        sources: dict[str, np.ndarray] = {}
        for op in plan.operations:
            if not isinstance(op, Insert) or op.source in sources:
                continue
            name = PurePath(op.source).name
            if name not in uploads:
                raise RequestError(
                    422, f"insert from {clip(op.source)!r}: the server opens no file by name; attach "
                    f"the picture as the multipart file field 'sources' with the file name {clip(name)!r}",
                )  # fmt: skip
            sources[op.source] = decode_image(uploads[name], self.limits, f"source {clip(name)!r}")
        return sources

    def submit_edit(self, request: StoredRequest) -> Job:
        job_id = new_job_id()
        self.store.add(job_id, request)
        try:
            return self.worker.submit(functools.partial(self._run_edit, job_id), job_id)
        except RequestError:
            self.store.forget(job_id)
            raise

    @speaking(REST)  # runs on the worker thread, which does not share the request's context
    def _run_edit(self, job_id: str, progress: ProgressCallback) -> None:
        """Run a stored edit and keep its result on disk (the worker holds nothing of it afterwards)."""
        try:
            request = self.store.request(job_id)
            self.store.mark(job_id, "running")
            result = edit(
                request.image, request.plan, masks=request.masks, boxes=request.boxes,
                sources=request.sources, engine=self.engine, progress=progress,
                hd_strategy=request.resolution, refine_mask=request.refine_mask,
            )  # fmt: skip
            size = (request.image.shape[1], request.image.shape[0])
            named = {**request.masks, **named_masks(None, request.boxes, size).masks}
            outcome = EditOutcome(result=result, masks=masks_after_edit(named, result))
            self.store.save_result(job_id, result)
            self.store.save_answer(job_id, self.describe(job_id, outcome).model_dump())
        except Interrupted:
            self.store.mark(job_id, "queued")
            raise
        except Exception as exc:
            failure = as_request_error(exc)
            self.store.mark(job_id, "failed", failure.message, failure.status)
            raise failure from None
        self.store.mark(job_id, "done")
        self.store.expire()

    def wait(self, job: Job) -> EditResponse:
        job.wait()
        if job.error is not None:
            raise job.error
        return self.answer(job.id, with_image=True)

    def answer(self, job_id: str, with_image: bool = False) -> EditResponse:
        """The finished edit's answer, read from disk."""
        row = self.store.row(job_id)
        done = row is not None and row.status == "done" and row.kind == "edit"
        answer = self.store.answer(job_id) if done else None
        if answer is None:
            raise RequestError(
                404, f"no finished edit with id {clip(job_id)!r}; results are kept for "
                f"{self.store.retention / 3600:g} hours",
            )  # fmt: skip
        response = EditResponse(**answer)
        if with_image:
            data = (self.store.result_folder(job_id) / "image.png").read_bytes()
            response.image = base64.b64encode(data).decode("ascii")
        return response

    def job_status(self, job_id: str) -> JobResponse:
        """Progress of a queued or running job, or the answer of a finished one."""
        job = self.worker.get(job_id)
        row = self.store.row(job_id)
        if row is not None and row.kind != "edit":  # a session's message: seen through its session
            job = row = None
        if job is None and row is None:
            kept = f"{self.store.retention / 3600:g} hours"
            raise RequestError(404, f"no job with id {clip(job_id)!r}; results are kept for {kept}")
        if job is not None and not job.finished.is_set():
            return JobResponse(
                id=job_id, status=job.status, stage=job.stage, done=job.done, total=job.total,
                jobs_ahead=self.worker.jobs_ahead(job),
            )  # fmt: skip
        status = JobResponse(id=job_id, status=row.status if row else job.status)  # type: ignore[union-attr]
        if job is not None:  # the last progress report, while the job is remembered
            status.stage, status.done, status.total = job.stage, job.done, job.total
        if status.status == "done":
            status.result = self.answer(job_id)
        elif job is not None and job.error is not None:
            status.error, status.error_status = job.error.message, job.error.status
        elif row is not None and row.error is not None:
            status.error, status.error_status = row.error, row.error_status
        return status

    def result_file(self, job_id: str, relative: str) -> Path:
        """A file of a finished edit's result (``image.png``, ``layers/layers.psd``...)."""
        self.answer(job_id)  # 404 unless finished
        path = self.store.result_folder(job_id) / relative
        if not path.is_file():
            raise RequestError(404, f"the edit {clip(job_id)!r} has no {relative}")
        return path

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

    def describe(self, job_id: str, outcome: EditOutcome) -> EditResponse:
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
        )

    def layers(self, job_id: str) -> list[RenderedLayer]:
        """The finished edit's layers, bottom to top, read back from disk."""
        return self.store.layers(job_id, self.answer(job_id).layers)

    def layers_zip(self, job_id: str) -> bytes:
        """The same files ``layeredit edit --save-layers`` writes, zipped."""
        layers = self.layers(job_id)
        folder = self.store.result_folder(job_id)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted((folder / "layers").iterdir()):
                archive.write(path, arcname=path.name)
            archive.write(folder / "plan.json", arcname="plan.json")
            archive.writestr("layers.ora", ora_bytes(layers))
            if psd_export_available():
                archive.writestr("layers.psd", psd_bytes(layers))
        return buffer.getvalue()


def _union(masks: list[np.ndarray], target: Target) -> np.ndarray:
    if not masks:
        raise TargetNotFoundError(f"found no '{target.phrase}' in the image; click on it or upload its mask")
    return np.logical_or.reduce(masks)
