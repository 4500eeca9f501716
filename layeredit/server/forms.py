"""Multipart form fields the REST routes share, and reading an upload within the size limit."""

from __future__ import annotations

from typing import Annotated

from fastapi import File, Form, UploadFile

from layeredit.engine.resolution import Strategy
from layeredit.server.uploads import Limits, RequestError

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
RefineFile = Annotated[
    UploadFile | None,
    File(description="Mask of features beside a removed object (e.g. lettering) to keep out of its hole."),
]
HdStrategy = Annotated[
    Strategy | None,
    Form(description="How a photo larger than the engine's working size is edited: auto, crop, resize or "
         "original (see layeredit.engine.resolution); default: the server's --hd-strategy."),
]


def read_upload(upload: UploadFile | None, limits: Limits) -> bytes | None:
    """The uploaded file's bytes (None without one); a file over the request limit is refused."""
    # The body-size middleware has already bounded the request; this bounds each part too.
    if upload is None:
        return None
    data = upload.file.read(limits.max_request_bytes + 1)
    if len(data) > limits.max_request_bytes:
        raise RequestError(
            413, f"{upload.filename or 'upload'} is larger than {limits.max_request_bytes} bytes"
        )
    return data
