"""The edit endpoints: ``/v1/plan``, ``/v1/edit`` (wait for the picture) and ``/v1/jobs`` (queue it)."""

from __future__ import annotations

from fastapi import APIRouter, UploadFile

from layeredit.agent.plans import make_plan
from layeredit.engine.resolution import Strategy
from layeredit.errors import LayereditError, error_text
from layeredit.server.forms import (
    BoxesField,
    HdStrategy,
    ImageFile,
    Instruction,
    MaskFiles,
    RefineFile,
    SourceFiles,
    read_upload,
)
from layeredit.server.jobstore import StoredRequest
from layeredit.server.schemas import ERRORS, EditResponse, JobResponse, PlanRequest, PlanResponse
from layeredit.server.service import EditorService
from layeredit.server.uploads import RequestError


def edit_router(service: EditorService) -> APIRouter:
    """The routes; edits go through ``service`` (its engine, limits and worker)."""
    router = APIRouter(prefix="/v1", tags=["edit"], responses=ERRORS)
    limits = service.limits

    @router.post("/plan", response_model=PlanResponse)
    def plan(request: PlanRequest) -> PlanResponse:
        """The edit plan an instruction turns into, without editing anything."""
        try:
            edit_plan = make_plan(request.instruction, (request.width, request.height), service.planner)
        except LayereditError as exc:
            raise RequestError(422, error_text(exc)) from None
        return PlanResponse(plan=edit_plan.model_dump(exclude_none=True), summary=edit_plan.summary())

    @router.post("/edit", response_model=EditResponse)
    def edit(
        image: ImageFile = None,
        instruction: Instruction = None,
        masks: MaskFiles = None,
        boxes: BoxesField = None,
        sources: SourceFiles = None,
        hd_strategy: HdStrategy = None,
        refine_mask: RefineFile = None,
    ) -> EditResponse:
        """Edit the image and wait for the result (the PNG comes back base64-encoded in ``image``)."""
        request = _prepare(image, instruction, masks, boxes, sources, hd_strategy, refine_mask)
        return service.wait(service.submit_edit(request))

    @router.post("/jobs", response_model=JobResponse, status_code=202)
    def start_edit(
        image: ImageFile = None,
        instruction: Instruction = None,
        masks: MaskFiles = None,
        boxes: BoxesField = None,
        sources: SourceFiles = None,
        hd_strategy: HdStrategy = None,
        refine_mask: RefineFile = None,
    ) -> JobResponse:
        """Queue an edit and return at once; poll ``GET /v1/jobs/{id}`` for progress and the result."""
        request = _prepare(image, instruction, masks, boxes, sources, hd_strategy, refine_mask)
        job = service.submit_edit(request)
        return service.job_status(job.id)

    @router.get("/jobs/{job_id}", response_model=JobResponse)
    def job_status(job_id: str) -> JobResponse:
        return service.job_status(job_id)

    def _prepare(
        image: UploadFile | None,
        instruction: str | None,
        masks: list[UploadFile] | None,
        boxes: str | None,
        sources: list[UploadFile] | None,
        hd_strategy: Strategy | None,
        refine_mask: UploadFile | None,
    ) -> StoredRequest:
        mask_files = [(upload.filename, read_upload(upload, limits) or b"") for upload in masks or []]
        source_files = [(upload.filename, read_upload(upload, limits) or b"") for upload in sources or []]
        return service.prepare_edit(
            read_upload(image, limits), instruction, mask_files, boxes, source_files, hd_strategy,
            read_upload(refine_mask, limits),
        )  # fmt: skip

    return router
