"""Request and response bodies of the REST API (they make up the OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from layeredit.imageio import MAX_SIDE


class ErrorBody(BaseModel):
    detail: str = Field(description="What was wrong with the request and how to fix it.")


# The error answers the REST routes document (the sessions add 409 for a busy session).
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 404, 413, 422, 501)
}


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    engine: str
    point_segmenter: str
    text_segmentation: bool = Field(description="Whether /v1/segment accepts a phrase (needs the models).")
    jobs_waiting: int


class PlanRequest(BaseModel):
    instruction: str = Field(min_length=1, examples=["move the cat to the left and remove the lamp"])
    width: int = Field(default=1000, gt=0, le=MAX_SIDE, description="Image width, for pixel amounts.")
    height: int = Field(default=1000, gt=0, le=MAX_SIDE, description="Image height, for pixel amounts.")


class PlanResponse(BaseModel):
    plan: dict[str, Any] = Field(description="The edit plan (see layeredit.plan.EditPlan).")
    summary: str


class Downloads(BaseModel):
    image: str = Field(description="URL of the edited image (PNG).")
    layers_zip: str = Field(
        description="URL of a zip: one RGBA PNG per layer, layers.psd, layers.ora, plan.json."
    )
    layers_psd: str
    layers_ora: str


class EditResponse(BaseModel):
    id: str
    plan: dict[str, Any]
    summary: str
    width: int
    height: int
    layers: list[str] = Field(description="Layer names, background first (bottom to top).")
    masks: dict[str, str] = Field(
        description="Where each named object is after the edit, as PNG data URLs (white = object)."
    )
    timings: dict[str, float] = Field(description="Seconds per stage.")
    stats: dict[str, int | float | str] = Field(
        default_factory=dict,
        description="What the engine did, e.g. hd_strategy (crop, resize or original) and hd_size.",
    )
    downloads: Downloads
    image: str | None = Field(
        default=None, description="The edited image as base64 PNG (POST /v1/edit only)."
    )


class JobResponse(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    stage: str = ""
    done: int = 0
    total: int = 0
    jobs_ahead: int = Field(default=0, description="Jobs that run before this one.")
    result: EditResponse | None = None
    error: str | None = None
    error_status: int | None = None


class SegmentResponse(BaseModel):
    name: str
    mask: str = Field(description="The mask as a PNG data URL (white = object).")
    box: tuple[int, int, int, int] = Field(description="x0, y0, x1, y1 in pixels.")
    area: int
    method: str = Field(description="Which segmenter made the mask, e.g. 'grabcut' or 'sam'.")
