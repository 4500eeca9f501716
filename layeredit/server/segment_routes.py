"""``/v1/segment``: the mask of one object, found by a point on it or by a phrase."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form

from layeredit.server.forms import ImageFile, read_upload
from layeredit.server.schemas import ERRORS, SegmentResponse
from layeredit.server.service import EditorService
from layeredit.server.uploads import png_data_url
from layeredit.tools.masks import bbox


def segment_router(service: EditorService) -> APIRouter:
    """The route; masks come from ``service``'s click segmenter or its text resolver."""
    router = APIRouter(prefix="/v1", tags=["segment"], responses=ERRORS)

    @router.post("/segment", response_model=SegmentResponse)
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
        mask, method = service.segment(read_upload(image, service.limits), phrase, x, y)
        return SegmentResponse(
            name=name, mask=png_data_url(mask), box=bbox(mask), area=int(mask.sum()), method=method
        )

    return router
