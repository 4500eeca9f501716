"""REST routes for layered scenes: ``POST /v1/decompose`` and ``POST /v1/compose``."""

from __future__ import annotations

import base64
import json
import math
import tempfile
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from layeredit.admission.archives import ArchiveLimits
from layeredit.errors import BudgetError, LayereditError
from layeredit.export import zip_folder
from layeredit.layered import DEFAULT_MAX_LAYERS, Composition, Decomposition, compose, decompose
from layeredit.layerfile import document_bytes, read_scene_bytes, write_scene
from layeredit.server.budget import MATTE_PASSES, WorkBudget
from layeredit.server.result_routes import attachment
from layeredit.server.schemas import ERRORS
from layeredit.server.service import EditorService
from layeredit.server.uploads import (
    Limits,
    RequestError,
    decode_image,
    decode_mask,
    mask_name,
    parse_boxes,
    png_bytes,
)

MEDIA_TYPES = {"psd": "image/vnd.adobe.photoshop", "ora": "image/openraster", "zip": "application/zip"}


class ComposeResponse(BaseModel):
    plan: dict[str, Any] | None = Field(description="The edit plan the layer changes made; null if none.")
    summary: str
    width: int
    height: int
    image: str = Field(description="The composed picture, PNG, base64-encoded.")


def _read(upload: UploadFile, max_bytes: int) -> bytes:
    data = upload.file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise RequestError(413, f"{upload.filename or 'upload'} is larger than {max_bytes} bytes")
    return data


def scene_archive(result: Decomposition, kind: str) -> bytes:
    """The decomposition as a .psd, an .ora, or a zip of the scene folder (``kind`` 'zip')."""
    if kind != "zip":
        return document_bytes(kind, result.original, result.layers, result.record)
    with tempfile.TemporaryDirectory(prefix="layeredit-scene-") as folder:
        write_scene(Path(folder) / "scene", result.original, result.layers, result.record)
        return zip_folder(Path(folder) / "scene")


def _compose_upload(
    name: str, data: bytes, engine: Any, progress: Any, limits: Limits, budget: WorkBudget
) -> Composition:
    """Compose an uploaded .psd, .ora or zipped scene folder, read from memory (nothing it names
    is opened, and no archive is unpacked to disk), within the work ``budget``."""
    archive_limits = ArchiveLimits(
        max_member_bytes=limits.max_request_bytes, max_total_bytes=4 * limits.max_request_bytes
    )
    try:
        scene = read_scene_bytes(data, name, limits.max_image_pixels, archive_limits)
    except BudgetError as exc:
        raise RequestError(413, str(exc)) from None
    except LayereditError as exc:
        raise RequestError(422, str(exc)) from None
    width, height = scene.record.size
    covered = sum(layer.rgba.shape[0] * layer.rgba.shape[1] for layer in scene.layers)
    passes = 1 + math.ceil(covered / max(1, width * height))  # the render, and each canvas of layers
    budget.check(f"composing {name!r}", width * height, passes, "send fewer or smaller layers")
    return compose(scene, engine, progress)


def layers_router(service: EditorService, budget: WorkBudget | None = None) -> APIRouter:
    """The routes, sharing the server's engine, limits and worker; each job within ``budget``."""
    router = APIRouter(prefix="/v1", tags=["layers"])
    limits = service.limits
    budget = budget or WorkBudget()

    def run(task: Any, what: str) -> Any:
        job = service.worker.submit(task, time_limit=(budget.max_seconds, budget.overrun(what)))
        job.wait()
        if job.error is not None:
            raise job.error
        return job.result

    @router.post("/decompose", responses=ERRORS, response_class=Response)
    def decompose_route(
        image: Annotated[UploadFile, File(description="The photo (PNG, JPEG or WebP).")],
        masks: Annotated[
            list[UploadFile] | None,
            File(description="Object masks, each file named after its object: boy.png."),
        ] = None,
        boxes: Annotated[
            str | None, Form(description='Boxes as masks, JSON: {"cat": [x0, y0, x1, y1]}.')
        ] = None,
        phrases: Annotated[
            str | None, Form(description="Objects to find by name, one per line (needs the models).")
        ] = None,
        auto: Annotated[bool, Form(description="Also find the salient objects (needs the models).")] = False,
        max_layers: Annotated[int, Form(ge=1, le=64)] = DEFAULT_MAX_LAYERS,
        soft_edges: Annotated[bool, Form(description="Alpha-matte the object borders.")] = True,
        format: Annotated[
            Literal["psd", "ora", "zip"], Form(description="psd, ora or zip (PNG layers).")
        ] = "psd",
    ) -> Response:
        """The clean background plate and one RGBA layer per object, as a layered file to edit."""
        pixels = decode_image(_read(image, limits.max_request_bytes), limits)
        size = (pixels.shape[1], pixels.shape[0])
        named = {}
        for upload in masks or []:
            name = mask_name(upload.filename)
            data = _read(upload, limits.max_request_bytes)
            named[name] = decode_mask(data, name, size, limits, upload.filename)
        words = [line.strip() for line in (phrases or "").splitlines() if line.strip()]
        if (words or auto) and service.text_resolver is None:
            raise RequestError(
                501, "finding objects by name needs the perception models; upload masks or boxes"
            )
        parsed_boxes = parse_boxes(boxes)
        objects = min(max_layers, len(named) + len(parsed_boxes) + len(words) + (max_layers if auto else 0))
        budget.check(
            "this decompose", size[0] * size[1], 1 + (MATTE_PASSES * objects if soft_edges else 0),
            "send a smaller picture or fewer objects, or soft_edges=false (no matting)",
        )  # fmt: skip

        def task(progress: Any) -> bytes:
            try:
                result = decompose(pixels, words, named, parsed_boxes, auto, max_layers, service.engine,
                                   soft_edges, service.text_resolver, progress)  # fmt: skip
            except ValueError as exc:
                raise RequestError(422, str(exc)) from None
            return scene_archive(result, format)

        data = run(task, "the decompose")
        stem = PurePath(image.filename or "layers").stem
        return attachment(data, MEDIA_TYPES[format], f"{stem}-layers.{format}")

    @router.post("/compose", response_model=ComposeResponse, responses=ERRORS)
    def compose_route(
        scene: Annotated[UploadFile, File(description="The .psd, .ora or zip from /v1/decompose, edited.")],
    ) -> ComposeResponse:
        """Render a layered file whose layers were moved, resized, reordered, hidden or deleted."""
        data = _read(scene, limits.max_request_bytes)
        name = scene.filename or "scene"
        def task(progress: Any) -> Composition:
            return _compose_upload(name, data, service.engine, progress, limits, budget)

        result = run(task, "the compose")
        plan = result.plan
        return ComposeResponse(
            plan=json.loads(plan.to_json()) if plan else None,
            summary=plan.summary() if plan else "no layer changed",
            width=result.image.shape[1],
            height=result.image.shape[0],
            image=base64.b64encode(png_bytes(result.image)).decode("ascii"),
        )

    return router
