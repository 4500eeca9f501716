"""The HTTP server: the REST API under ``/v1`` and the web editor at ``/``."""

from __future__ import annotations

import tempfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from layeredit.agent.llm import Planner, make_planner
from layeredit.api import make_plan
from layeredit.engine.base import Engine
from layeredit.engine.resolution import DEFAULT_HD_STRATEGY, Strategy
from layeredit.errors import LayereditError, error_text
from layeredit.export import ora_bytes, psd_bytes, psd_export_available
from layeredit.server.access import AccessGuard, AccessPolicy
from layeredit.server.jobstore import StoredRequest
from layeredit.server.layers_api import layers_router
from layeredit.server.limits import BodySizeLimit
from layeredit.server.schemas import (
    EditResponse,
    ErrorBody,
    Health,
    JobResponse,
    PlanRequest,
    PlanResponse,
    SegmentResponse,
)
from layeredit.server.service import EditorService, ServerStorage
from layeredit.server.session_routes import session_router
from layeredit.server.sessions import SessionManager
from layeredit.server.uploads import Limits, RequestError, png_data_url
from layeredit.tools.masks import bbox
from layeredit.tools.points import PointSegmenter
from layeredit.tools.resolve import MaskResolver

STATIC = Path(__file__).parent / "static"
ERRORS = {status: {"model": ErrorBody} for status in (400, 404, 413, 422, 501)}

ImageFile = Annotated[UploadFile | None, File(description="The photo (PNG, JPEG or WebP).")]
Instruction = Annotated[str | None, Form(description="What to do, in plain English or as edit-plan JSON.")]
MaskFiles = Annotated[
    list[UploadFile] | None,
    File(description="Object masks (white = object), each file named after its object: boy.png."),
]
SourceFiles = Annotated[
    list[UploadFile] | None,
    File(description="Pictures an 'insert' takes objects from, each named as the instruction names it."),
]
BoxesField = Annotated[
    str | None, Form(description='Boxes as masks, JSON: {"cat": [x0, y0, x1, y1]} in pixels.')
]
HdStrategy = Annotated[
    Strategy,
    Form(description="How a photo larger than the engine's working size is edited: auto, crop, resize or "
         "original (see layeredit.engine.resolution)."),
]


def _read(upload: UploadFile | None, limits: Limits) -> bytes | None:
    # The body-size middleware has already bounded the request; this bounds each part too.
    if upload is None:
        return None
    data = upload.file.read(limits.max_request_bytes + 1)
    if len(data) > limits.max_request_bytes:
        raise RequestError(
            413, f"{upload.filename or 'upload'} is larger than {limits.max_request_bytes} bytes"
        )
    return data


def create_app(
    engine: str | Engine = "pixel",
    limits: Limits | None = None,
    point_segmenter: PointSegmenter | None = None,
    text_resolver: MaskResolver | None = None,
    planner: Planner | str | None = None,
    data_dir: str | Path | None = None,
    access: AccessPolicy | None = None,
    storage: ServerStorage | None = None,
) -> FastAPI:
    """The server app; ``engine`` and the segmenters are loaded once and shared by all requests.

    ``planner`` plans chat messages (a :class:`Planner`, ``PROVIDER:MODEL``, or None for
    ``$LAYEREDIT_LLM``, else the rules); chat sessions are kept under ``data_dir`` (None: a
    temporary folder removed at shutdown). ``access`` says who may call it (default: no token,
    localhost names only, no CORS); ``storage`` where jobs and results are kept (default: a
    temporary folder).
    """
    service = EditorService(engine, limits, point_segmenter, text_resolver, storage=storage)
    limits = service.limits
    scratch = tempfile.TemporaryDirectory(prefix="layeredit-data-") if data_dir is None else None
    chat_planner = make_planner(planner) if planner is None or isinstance(planner, str) else planner
    sessions = SessionManager(service, chat_planner, Path(scratch.name if scratch else data_dir))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        service.close()
        if scratch is not None:
            scratch.cleanup()

    app = FastAPI(
        title="layeredit",
        summary="Edit photos from plain-language instructions.",
        version="1",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.sessions = sessions
    app.add_middleware(BodySizeLimit, max_bytes=limits.max_request_bytes)
    access = access or AccessPolicy()
    app.add_middleware(AccessGuard, policy=access)
    if access.cors_origins:  # outermost, so a browser's preflight is answered before the token check
        app.add_middleware(
            CORSMiddleware, allow_origins=list(access.cors_origins), allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )  # fmt: skip
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(session_router(sessions))

    app.include_router(layers_router(service))

    @app.exception_handler(RequestError)
    async def request_error(request: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        return JSONResponse({"detail": "; ".join(problems)}, status_code=422)

    @app.get("/", include_in_schema=False)
    def editor_page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/healthz", response_model=Health, tags=["server"])
    def health() -> Health:
        return Health(
            engine=service.engine.name,
            point_segmenter=service.point_segmenter.name,
            text_segmentation=service.text_resolver is not None,
            jobs_waiting=service.worker.waiting(),
        )

    @app.post("/v1/plan", response_model=PlanResponse, responses=ERRORS, tags=["edit"])
    def plan(request: PlanRequest) -> PlanResponse:
        """The edit plan an instruction turns into, without editing anything."""
        try:
            edit_plan = make_plan(request.instruction, (request.width, request.height))
        except LayereditError as exc:
            raise RequestError(422, error_text(exc)) from None
        return PlanResponse(plan=edit_plan.model_dump(exclude_none=True), summary=edit_plan.summary())

    @app.post("/v1/edit", response_model=EditResponse, responses=ERRORS, tags=["edit"])
    def edit(
        image: ImageFile = None,
        instruction: Instruction = None,
        masks: MaskFiles = None,
        boxes: BoxesField = None,
        sources: SourceFiles = None,
        hd_strategy: HdStrategy = DEFAULT_HD_STRATEGY,
    ) -> EditResponse:
        """Edit the image and wait for the result (the PNG comes back base64-encoded in ``image``)."""
        request = _prepare(image, instruction, masks, boxes, sources, hd_strategy)
        return service.wait(service.submit_edit(request))

    @app.post("/v1/jobs", response_model=JobResponse, status_code=202, responses=ERRORS, tags=["edit"])
    def start_edit(
        image: ImageFile = None,
        instruction: Instruction = None,
        masks: MaskFiles = None,
        boxes: BoxesField = None,
        sources: SourceFiles = None,
        hd_strategy: HdStrategy = DEFAULT_HD_STRATEGY,
    ) -> JobResponse:
        """Queue an edit and return at once; poll ``GET /v1/jobs/{id}`` for progress and the result."""
        job = service.submit_edit(_prepare(image, instruction, masks, boxes, sources, hd_strategy))
        return service.job_status(job.id)

    @app.get("/v1/jobs/{job_id}", response_model=JobResponse, responses=ERRORS, tags=["edit"])
    def job_status(job_id: str) -> JobResponse:
        return service.job_status(job_id)

    @app.get("/v1/results/{job_id}/image.png", responses=ERRORS, tags=["results"])
    def result_image(job_id: str) -> FileResponse:
        return FileResponse(service.result_file(job_id, "image.png"), media_type="image/png")

    @app.get("/v1/results/{job_id}/layers.zip", responses=ERRORS, tags=["results"])
    def result_layers_zip(job_id: str) -> Response:
        return _download(service.layers_zip(job_id), "application/zip", f"layers-{job_id}.zip")

    @app.get("/v1/results/{job_id}/layers.psd", responses=ERRORS, tags=["results"])
    def result_layers_psd(job_id: str) -> Response:
        layers = service.layers(job_id)
        if not psd_export_available():
            raise RequestError(501, "PSD export needs psd-tools: pip install 'layeredit[server]'")
        return _download(psd_bytes(layers), "image/vnd.adobe.photoshop", f"layers-{job_id}.psd")

    @app.get("/v1/results/{job_id}/layers.ora", responses=ERRORS, tags=["results"])
    def result_layers_ora(job_id: str) -> Response:
        return _download(ora_bytes(service.layers(job_id)), "image/openraster", f"layers-{job_id}.ora")

    @app.post("/v1/segment", response_model=SegmentResponse, responses=ERRORS, tags=["segment"])
    def segment(
        image: ImageFile = None,
        name: Annotated[str, Form(description="What to call the object, e.g. 'dog'.")] = "object",
        phrase: Annotated[
            str | None, Form(description="Find the object by words (needs the models).")
        ] = None,
        x: Annotated[int | None, Form(description="Or by a point on it: x in pixels.")] = None,
        y: Annotated[int | None, Form(description="and y in pixels.")] = None,
    ) -> SegmentResponse:
        """The mask of one object, found by a point on it or by a phrase."""
        mask, method = service.segment(_read(image, limits), phrase, x, y)
        return SegmentResponse(
            name=name, mask=png_data_url(mask), box=bbox(mask), area=int(mask.sum()), method=method
        )

    def _prepare(
        image: UploadFile | None,
        instruction: str | None,
        masks: list[UploadFile] | None,
        boxes: str | None,
        sources: list[UploadFile] | None,
        hd_strategy: Strategy,
    ) -> StoredRequest:
        mask_files = [(upload.filename, _read(upload, limits) or b"") for upload in masks or []]
        source_files = [(upload.filename, _read(upload, limits) or b"") for upload in sources or []]
        return service.prepare_edit(
            _read(image, limits), instruction, mask_files, boxes, source_files, hd_strategy
        )

    return app


def _download(data: bytes, media_type: str, filename: str) -> Response:
    return Response(
        data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
