"""The HTTP server: the REST API under ``/v1`` and the web editor at ``/``, assembled from routers that
each own one concern (edits, results, segmentation, layered files, chat sessions)."""

from __future__ import annotations

import tempfile
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from layeredit.agent.llm import Planner, make_planner
from layeredit.engine.base import Engine
from layeredit.server.access import CLIENT_HEADER, AccessGuard, AccessPolicy
from layeredit.server.budget import WorkBudget
from layeredit.server.edit_routes import edit_router
from layeredit.server.layers_api import layers_router
from layeredit.server.limits import BodySizeLimit
from layeredit.server.result_routes import results_router
from layeredit.server.schemas import Health
from layeredit.server.segment_routes import segment_router
from layeredit.server.service import EditorService, ServerStorage
from layeredit.server.session_routes import session_router
from layeredit.server.sessions import SessionManager
from layeredit.server.uploads import Limits, RequestError
from layeredit.tools.points import PointSegmenter
from layeredit.tools.resolve import MaskResolver

STATIC = Path(__file__).parent / "static"


def create_app(
    engine: str | Engine = "pixel",
    limits: Limits | None = None,
    point_segmenter: PointSegmenter | None = None,
    text_resolver: MaskResolver | None = None,
    planner: Planner | str | None = None,
    data_dir: str | Path | None = None,
    access: AccessPolicy | None = None,
    storage: ServerStorage | None = None,
    budget: WorkBudget | None = None,
) -> FastAPI:
    """The server app; ``engine`` and the segmenters are loaded once and shared by all requests.

    ``planner`` reads every instruction, of edits, plans and chat messages alike (a
    :class:`Planner`, ``PROVIDER:MODEL``, or None for ``$LAYEREDIT_LLM``, else the rules); chat
    sessions are kept under ``data_dir`` (None: a temporary folder removed at shutdown). ``access``
    says who may call it (default: no token, localhost names only, no CORS); ``storage`` where
    jobs and results are kept (default: a temporary folder); ``budget`` how much work one
    decompose or compose may do.
    """
    chosen = make_planner(planner) if planner is None or isinstance(planner, str) else planner
    service = EditorService(engine, limits, point_segmenter, text_resolver, storage=storage, planner=chosen)
    scratch = tempfile.TemporaryDirectory(prefix="layeredit-data-") if data_dir is None else None
    sessions = SessionManager(service, chosen, Path(scratch.name if scratch else data_dir), storage=storage)

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
    guard(app, access or AccessPolicy(), service.limits)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in (
        session_router(sessions), layers_router(service, budget), editor_router(service),
        edit_router(service), results_router(service), segment_router(service),
    ):  # fmt: skip
        app.include_router(router)
    answer_errors(app)
    return app


def guard(app: FastAPI, access: AccessPolicy, limits: Limits) -> None:
    """Bound request bodies, check who calls (token, host names) and answer allowed web origins."""
    app.add_middleware(BodySizeLimit, max_bytes=limits.max_request_bytes)
    app.add_middleware(AccessGuard, policy=access)
    if access.cors_origins:  # outermost, so a browser's preflight is answered before the token check
        app.add_middleware(
            CORSMiddleware, allow_origins=list(access.cors_origins), allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", CLIENT_HEADER],
        )  # fmt: skip


def answer_errors(app: FastAPI) -> None:
    """A request the server refuses gets ``{"detail": one line}`` with its status, never a traceback."""

    @app.exception_handler(RequestError)
    async def request_error(request: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        return JSONResponse({"detail": "; ".join(problems)}, status_code=422)


def editor_router(service: EditorService) -> APIRouter:
    """The web editor's page and the health check."""
    router = APIRouter()

    @router.get("/", include_in_schema=False)
    def editor_page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @router.get("/healthz", response_model=Health, tags=["server"])
    def health() -> Health:
        return Health(
            engine=service.engine.name,
            point_segmenter=service.point_segmenter.name,
            text_segmentation=service.text_resolver is not None,
            jobs_waiting=service.worker.waiting(),
        )

    return router
