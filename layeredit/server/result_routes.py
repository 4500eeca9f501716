"""Downloads of a finished job: ``/v1/results/{id}/image.png`` and its layers (zip, PSD, ORA)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from layeredit.admission.names import content_disposition
from layeredit.export import ora_bytes, psd_bytes, psd_export_available
from layeredit.server.schemas import ERRORS
from layeredit.server.service import EditorService
from layeredit.server.uploads import RequestError


def results_router(service: EditorService) -> APIRouter:
    """The routes; results are the files ``service`` kept for each job."""
    router = APIRouter(prefix="/v1/results/{job_id}", tags=["results"], responses=ERRORS)

    @router.get("/image.png")
    def result_image(job_id: str) -> FileResponse:
        return FileResponse(service.result_file(job_id, "image.png"), media_type="image/png")

    @router.get("/layers.zip")
    def result_layers_zip(job_id: str) -> Response:
        return attachment(service.layers_zip(job_id), "application/zip", f"layers-{job_id}.zip")

    @router.get("/layers.psd")
    def result_layers_psd(job_id: str) -> Response:
        layers = service.layers(job_id)
        if not psd_export_available():
            raise RequestError(501, "PSD export needs psd-tools: pip install 'layeredit[server]'")
        return attachment(psd_bytes(layers), "image/vnd.adobe.photoshop", f"layers-{job_id}.psd")

    @router.get("/layers.ora")
    def result_layers_ora(job_id: str) -> Response:
        return attachment(ora_bytes(service.layers(job_id)), "image/openraster", f"layers-{job_id}.ora")

    return router


def attachment(data: bytes, media_type: str, filename: str) -> Response:
    """``data`` as a download named ``filename`` (any name: non-ASCII travels as RFC 6266 ``filename*``)."""
    headers = {"Content-Disposition": content_disposition(filename)}
    return Response(data, media_type=media_type, headers=headers)
