"""Multipart form fields the REST routes share, and reading an upload within the size limit."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, File, Form, UploadFile

from layeredit.admission.documents import MAX_TEXT
from layeredit.engine.resolution import ResolutionParams
from layeredit.params import optional_fields
from layeredit.server.uploads import Limits, RequestError

ImageFile = Annotated[UploadFile | None, File(description="The photo (PNG, JPEG or WebP).")]
Instruction = Annotated[
    str | None, Form(description="What to do, in plain English or as edit-plan JSON.", max_length=MAX_TEXT)
]
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


def options_form(cls: type) -> Callable[..., dict[str, Any]]:
    """A dependency reading the fields of the options dataclass ``cls`` as optional form fields
    (type, help text; not given: the server's setting); it returns those given, by name."""

    def given(**values: Any) -> dict[str, Any]:
        return {name: value for name, value in values.items() if value is not None}

    # FastAPI reads the parameters from the signature: one per field, generated, never written out.
    given.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=None,
            annotation=Annotated[annotation, Form(description=info.description)],
        )
        for name, (annotation, info) in optional_fields(cls).items()
    ])  # fmt: skip
    return given


# The engine options a client may set per request: how a large photo is edited. The others (engine,
# model, steps, guidance, working size...) are the server owner's: they set the cost of each edit.
ResolutionForm = Annotated[dict[str, Any], Depends(options_form(ResolutionParams))]


@dataclass(frozen=True)
class EditForm:
    """The form fields of an edit request, as sent (uploads not read yet)."""

    image: UploadFile | None
    instruction: str | None
    masks: list[UploadFile]
    boxes: str | None
    sources: list[UploadFile]
    resolution: dict[str, Any]  # the resolution options given, by name
    refine_mask: UploadFile | None


def edit_form(
    resolution: ResolutionForm,
    image: ImageFile = None,
    instruction: Instruction = None,
    masks: MaskFiles = None,
    boxes: BoxesField = None,
    sources: SourceFiles = None,
    refine_mask: RefineFile = None,
) -> EditForm:
    """The fields ``/v1/edit`` and ``/v1/jobs`` share."""
    return EditForm(image, instruction, masks or [], boxes, sources or [], resolution, refine_mask)


EditFields = Annotated[EditForm, Depends(edit_form)]


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
