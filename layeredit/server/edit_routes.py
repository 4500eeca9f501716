"""The edit endpoints: ``/v1/plan``, ``/v1/edit`` (wait for the picture) and ``/v1/jobs`` (queue it)."""

from __future__ import annotations

from fastapi import APIRouter

from layeredit.agent.plans import make_plan
from layeredit.errors import LayereditError, error_text
from layeredit.server.forms import EditFields, EditForm, read_upload
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
    def edit(form: EditFields) -> EditResponse:
        """Edit the image and wait for the result (the PNG comes back base64-encoded in ``image``)."""
        return service.wait(service.submit_edit(_prepare(form)))

    @router.post("/jobs", response_model=JobResponse, status_code=202)
    def start_edit(form: EditFields) -> JobResponse:
        """Queue an edit and return at once; poll ``GET /v1/jobs/{id}`` for progress and the result."""
        job = service.submit_edit(_prepare(form))
        return service.job_status(job.id)

    @router.get("/jobs/{job_id}", response_model=JobResponse)
    def job_status(job_id: str) -> JobResponse:
        return service.job_status(job_id)

    def _prepare(form: EditForm) -> StoredRequest:
        mask_files = [(upload.filename, read_upload(upload, limits) or b"") for upload in form.masks]
        source_files = [(upload.filename, read_upload(upload, limits) or b"") for upload in form.sources]
        return service.prepare_edit(
            read_upload(form.image, limits), form.instruction, mask_files, form.boxes, source_files,
            form.resolution, read_upload(form.refine_mask, limits),
        )  # fmt: skip

    return router
