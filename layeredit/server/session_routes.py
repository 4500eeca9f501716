"""The chat-session endpoints under ``/v1/sessions`` (the web editor's chat uses these)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path, PurePath
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, UploadFile
from fastapi.responses import JSONResponse, Response

from layeredit.admission.documents import MAX_TEXT
from layeredit.engine.base import EditResult
from layeredit.export import ora_bytes, psd_bytes, psd_export_available, write_layers, zip_folder
from layeredit.server.forms import ImageFile, MaskFiles, RefineFile, ResolutionForm, SourceFiles, read_upload
from layeredit.server.result_routes import attachment
from layeredit.server.schemas import ErrorBody
from layeredit.server.sessions import Click, Drag, LiveSession, Mark, SessionManager, bearer_token
from layeredit.server.uploads import Limits, RequestError, decode_image, decode_mask, mask_name, png_bytes

ERRORS = {status: {"model": ErrorBody} for status in (400, 404, 409, 413, 422)}
CLICKS_HELP = 'Objects marked by a click, JSON: [{"name": "boy", "x": 120, "y": 300}].'
DRAG_EXAMPLE = '{"name": "boy", "from": [260, 300], "to": [140, 310]}'
DRAG_HELP = f"A gesture moving an object, JSON: {DRAG_EXAMPLE}."
PAINTED_HELP = "Or its mask as painted (white = object)."
BOX_HELP = "Or the object inside a box, JSON: [x0, y0, x1, y1] in pixels."
SAID_HELP = "How the text shows in the conversation, e.g. 'hide boy' for a gesture sent as plan JSON."
NO_STORE = {"Cache-Control": "no-store"}  # a turn's number is reused after undo and a new edit

Authorization = Annotated[str | None, Header(description="Bearer TOKEN: the session answers only to it.")]


def session_router(sessions: SessionManager) -> APIRouter:
    """The routes; ``app.include_router(session_router(manager))`` adds them to the server."""
    router = APIRouter(prefix="/v1/sessions", tags=["sessions"], responses=ERRORS)
    conversation_routes(router, sessions)
    marking_routes(router, sessions)
    history_routes(router, sessions)
    picture_routes(router, sessions)
    return router


def masks_of(uploads: list[UploadFile] | None, live_size: tuple[int, int], limits: Limits) -> dict[str, Any]:
    """Uploaded masks by the name of their file, checked against the picture's size."""
    masks = {}
    for upload in uploads or []:
        name = mask_name(upload.filename)
        masks[name] = decode_mask(read_upload(upload, limits), name, live_size, limits, upload.filename)
    return masks


def size_of(live: LiveSession) -> tuple[int, int]:
    image = live.chat.turn.image
    return image.shape[1], image.shape[0]


def conversation_routes(router: APIRouter, sessions: SessionManager) -> None:
    """Start a session, read it, say something in it."""
    limits = sessions.service.limits

    @router.post("", status_code=201)
    def create_session(
        image: ImageFile = None, masks: MaskFiles = None, authorization: Authorization = None
    ) -> dict[str, Any]:
        """Start a chat on a picture (with masks naming its objects, if you have them)."""
        if image is None:
            raise RequestError(400, "no image: attach the photo as the multipart file field 'image'")
        label = f"image {image.filename!r}" if image.filename else "image"
        pixels = decode_image(read_upload(image, limits), limits, label)
        named = masks_of(masks, (pixels.shape[1], pixels.shape[0]), limits)
        return sessions.view(sessions.create(pixels, named, bearer_token(authorization)))

    @router.get("/{session_id}")
    def get_session(session_id: str, authorization: Authorization = None) -> dict[str, Any]:
        """The conversation: turns with their pictures and masks, messages, a pending question, progress."""
        return sessions.view(sessions.get(session_id, bearer_token(authorization)))

    @router.post("/{session_id}/messages", status_code=202)
    def send_message(
        session_id: str,
        resolution: ResolutionForm,
        text: Annotated[
            str | None, Form(description="What to do, e.g. 'move him a bit more'.", max_length=MAX_TEXT)
        ] = None,
        masks: MaskFiles = None,
        clicks: Annotated[str | None, Form(description=CLICKS_HELP)] = None,
        replace_masks: Annotated[
            bool, Form(description="The masks sent replace all masks of the current picture.")
        ] = False,
        choice: Annotated[int | None, Form(description="Answers the pending question: 0-based.")] = None,
        drag: Annotated[str | None, Form(description=DRAG_HELP)] = None,
        said: Annotated[str | None, Form(description=SAID_HELP, max_length=200)] = None,
        sources: SourceFiles = None,
        refine_mask: RefineFile = None,
        wait: bool = False,
        authorization: Authorization = None,
    ) -> JSONResponse:
        """Say something; the answer is computed on the model worker.

        Returns at once with ``busy`` progress (poll ``GET /v1/sessions/{id}``), or with ``?wait=true``
        when the reply is in the session.
        """
        live = sessions.get(session_id, bearer_token(authorization))
        named = masks_of(masks, size_of(live), limits)
        refine = None
        if refine_mask is not None:
            refine = decode_mask(read_upload(refine_mask, limits), "refine mask", size_of(live), limits)
        pictures = {}
        for upload in sources or []:
            name = PurePath(upload.filename or "").name
            pictures[name] = decode_image(read_upload(upload, limits), limits, f"source {name!r}")
        job = sessions.send(
            live, text, named, parse_clicks(clicks), replace_masks, choice, parse_drag(drag), said,
            resolution, pictures, refine,
        )  # fmt: skip
        if wait:
            job.wait()
            if job.error is not None:
                raise job.error
        return JSONResponse(sessions.view(live), status_code=200 if job.finished.is_set() else 202)


def marking_routes(router: APIRouter, sessions: SessionManager) -> None:
    """Changes that are no turn: marking an object, hiding objects from view."""
    limits = sessions.service.limits

    @router.post("/{session_id}/marks")
    def mark(
        session_id: str,
        name: Annotated[str, Form(description="The object the mask marks, e.g. 'lamp'.", max_length=80)],
        x: Annotated[int | None, Form(description="Find it by a point on it: x in pixels.")] = None,
        y: Annotated[int | None, Form(description="and y in pixels.")] = None,
        box: Annotated[str | None, Form(description=BOX_HELP)] = None,
        mask: Annotated[UploadFile | None, File(description=PAINTED_HELP)] = None,
        authorization: Authorization = None,
    ) -> dict[str, Any]:
        """Mark an object of the current picture (no turn): by a click, a box or its painted mask.

        With none of these the mask named ``name`` is forgotten. Returns once the mask is stored.
        """
        live = sessions.get(session_id, bearer_token(authorization))
        painted = None
        if mask is not None:
            painted = decode_mask(read_upload(mask, limits), name, size_of(live), limits, mask.filename)
        point = None if x is None or y is None else (x, y)
        job = sessions.mark(live, Mark(name, point, parse_box(box), painted))
        job.wait()
        if job.error is not None:
            raise job.error
        return sessions.view(live)

    @router.post("/{session_id}/hidden")
    def hide(
        session_id: str,
        names: Annotated[str, Form(description='The objects to leave out of view, JSON: ["boy"].')] = "[]",
        authorization: Authorization = None,
    ) -> dict[str, Any]:
        """Hide objects from view (a view setting kept by later edits; the edits still see them)."""
        live = sessions.get(session_id, bearer_token(authorization))
        sessions.hide(live, parse_names(names))
        return sessions.view(live)

    @router.get("/{session_id}/shown.png", response_class=Response)
    def shown(session_id: str, authorization: Authorization = None) -> Response:
        """The current picture as the view shows it: without the hidden objects."""
        return _png(sessions.shown_picture(sessions.get(session_id, bearer_token(authorization))))


def history_routes(router: APIRouter, sessions: SessionManager) -> None:
    """Undo and redo."""

    @router.post("/{session_id}/undo")
    def undo(session_id: str, authorization: Authorization = None) -> dict[str, Any]:
        """Back to the picture before the last edit."""
        live = sessions.get(session_id, bearer_token(authorization))
        sessions.step(live, "undo")
        return sessions.view(live)

    @router.post("/{session_id}/redo")
    def redo(session_id: str, authorization: Authorization = None) -> dict[str, Any]:
        """Forward to the edit undone last."""
        live = sessions.get(session_id, bearer_token(authorization))
        sessions.step(live, "redo")
        return sessions.view(live)


def picture_routes(router: APIRouter, sessions: SessionManager) -> None:
    """The pictures of a session: each turn's image, masks and layers, and a question's choices."""

    @router.get("/{session_id}/turns/{number}/image.png", response_class=Response)
    def turn_image(session_id: str, number: int, authorization: Authorization = None) -> Response:
        live = sessions.get(session_id, bearer_token(authorization))
        return _png(sessions.turn_image(live, number))

    @router.get("/{session_id}/turns/{number}/masks/{name}.png", response_class=Response)
    def turn_mask(session_id: str, number: int, name: str, authorization: Authorization = None) -> Response:
        live = sessions.get(session_id, bearer_token(authorization))
        return _png(sessions.turn_mask(live, number, name))

    @router.get("/{session_id}/turns/{number}/layers.{kind}", response_class=Response)
    def turn_layers(session_id: str, number: int, kind: str, authorization: Authorization = None) -> Response:
        """The layers of an edit: zip (PNGs, PSD, ORA, plan), psd or ora."""
        live = sessions.get(session_id, bearer_token(authorization))
        result = sessions.turn_layers(live, number)
        writers = {
            "zip": (layers_zip, "application/zip"),
            "psd": (lambda edit: psd_bytes(edit.layers), "image/vnd.adobe.photoshop"),
            "ora": (lambda edit: ora_bytes(edit.layers), "image/openraster"),
        }
        if kind not in writers:
            raise RequestError(404, f"no layers.{kind}: ask for layers.zip, layers.psd or layers.ora")
        if kind == "psd" and not psd_export_available():
            raise RequestError(501, "PSD export needs psd-tools: pip install 'layeredit[server]'")
        write, media_type = writers[kind]
        return attachment(write(result), media_type, f"layers-turn{number}.{kind}")

    @router.get("/{session_id}/choices/{number}.png", response_class=Response)
    def choice_picture(session_id: str, number: int, authorization: Authorization = None) -> Response:
        """The picture with the object of one answer to the pending question tinted."""
        live = sessions.get(session_id, bearer_token(authorization))
        return _png(sessions.choice_picture(live, number))


def layers_zip(result: EditResult) -> bytes:
    """The files ``layeredit edit --save-layers`` writes (PNG layers, PSD, ORA, plan), zipped."""
    with tempfile.TemporaryDirectory(prefix="layeredit-turn-") as folder:
        write_layers(result, Path(folder))
        return zip_folder(Path(folder))


def parse_clicks(text: str | None) -> list[Click]:
    if not text:
        return []
    try:
        return [Click(str(item["name"]), int(item["x"]), int(item["y"])) for item in json.loads(text)]
    except (ValueError, TypeError, KeyError):
        raise RequestError(
            422, 'clicks must be JSON like [{"name": "boy", "x": 120, "y": 300}] (pixels of the picture)'
        ) from None


def parse_box(text: str | None) -> tuple[int, int, int, int] | None:
    if not text:
        return None
    try:
        x0, y0, x1, y1 = (int(value) for value in json.loads(text))
    except (ValueError, TypeError):
        raise RequestError(422, "box must be JSON like [10, 20, 200, 240]: x0, y0, x1, y1 (pixels)") from None
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def parse_names(text: str) -> list[str]:
    try:
        names = json.loads(text)
    except ValueError:
        names = None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise RequestError(422, 'names must be a JSON list of object names, e.g. ["boy"]')
    return names


def parse_drag(text: str | None) -> Drag | None:
    if not text:
        return None
    try:
        item = json.loads(text)
        (x0, y0), (x1, y1) = item["from"], item["to"]
        return Drag(str(item["name"]), (int(x0), int(y0)), (int(x1), int(y1)))
    except (ValueError, TypeError, KeyError):
        raise RequestError(422, f"drag must be JSON like {DRAG_EXAMPLE} (pixels of the picture)") from None


def _png(pixels: Any) -> Response:
    return Response(png_bytes(pixels), media_type="image/png", headers=NO_STORE)
