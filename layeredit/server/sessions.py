"""Chat sessions held by the server: the same :class:`ChatSession` as ``layeredit chat``, one per client.

Each session lives in ``DATA_DIR/sessions/ID/`` (the chat's own folder layout, plus ``owner.json``),
so a reloaded page or a restarted server resumes the conversation with its pictures. Ids are
unguessable (``secrets.token_urlsafe``); a session created with a bearer token answers only to
that token, and every session unknown to the caller is a plain 404, so ids cannot be probed.
Messages run on the server's one model worker, so a diffusion edit never races another and
the session can be read (history, progress) while its edit runs. Each message is a job in the
server's job store before it is queued, so a message cut off by a crash (even kill -9) is
answered after the restart.

Sessions are bounded: at most ``max_sessions`` exist at once (one more is a 429), and a session
unused for ``retention_s`` seconds is deleted with its files.

Two things change a session without a turn: marks (an object's mask found by a click or a box,
or painted) and the view's hidden objects (``view.json``): a hidden object is left out of the
picture shown, while edits keep working on the picture with it, so hiding survives later edits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from layeredit.admission.roots import FileScope
from layeredit.agent.chat import ChatSession, Reply
from layeredit.agent.executor import ObjectFinder
from layeredit.agent.llm import Planner
from layeredit.agent.session import SESSION_FILE, SessionError
from layeredit.api import edit
from layeredit.engine.base import EditResult, ProgressCallback
from layeredit.engine.resolution import resolution_given
from layeredit.errors import LayereditError
from layeredit.hints import WEB, speaking
from layeredit.imageio import write_atomically
from layeredit.server.jobstore import JobRow, StoredMessage
from layeredit.server.service import EditorService, ServerStorage
from layeredit.server.uploads import RequestError, check_resolution
from layeredit.server.worker import Interrupted, Job, as_request_error, new_job_id

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
OWNER_FILE = "owner.json"  # its modification time is when the session was last used
TOUCH_EVERY_S = 60.0  # how often a session in use has its last use written down
VIEW_FILE = "view.json"  # the objects hidden from view
NOT_FOUND = "no session with id {id!r} for this client; start one with POST /v1/sessions"
# The tint of a candidate object in the picture shown next to its answer button.
CHOICE_TINT = np.array([230, 25, 75])


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header, else None."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _last_use(folder: Path) -> float:
    """When the session in ``folder`` was last used (its folder's time if it has no owner file yet)."""
    for path in (folder / OWNER_FILE, folder):
        try:
            return path.stat().st_mtime
        except OSError:
            continue
    return 0.0


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Click:
    """A click on an object of the current picture, to be named ``name`` (its mask is segmented)."""

    name: str
    x: int
    y: int


@dataclass(frozen=True)
class Drag:
    """A gesture: the object ``name`` dragged from ``start`` to ``end`` (pixels), to move it as much."""

    name: str
    start: tuple[int, int]
    end: tuple[int, int]


@dataclass(frozen=True)
class Message:
    """One message to a session with the marks that come with it: what a session job runs."""

    text: str | None
    masks: Mapping[str, np.ndarray] = field(default_factory=dict)
    clicks: list[Click] = field(default_factory=list)
    replace_masks: bool = False
    choice: int | None = None
    drag: Drag | None = None
    said: str | None = None
    resolution: Mapping[str, Any] = field(default_factory=dict)  # ResolutionParams fields given, by name
    sources: Mapping[str, np.ndarray] = field(default_factory=dict)
    refine_mask: np.ndarray | None = None

    def stored(self, log_length: int) -> StoredMessage:
        arrays = ("masks", "sources", "refine_mask")
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__ if name not in arrays}
        fields["clicks"] = [asdict(click) for click in self.clicks]
        fields["drag"] = None if self.drag is None else asdict(self.drag)
        masks = dict(self.masks)
        if self.refine_mask is not None:
            fields["refine_mask"] = f"refine-{len(masks)}"  # a name no client mask can take
            masks[fields["refine_mask"]] = self.refine_mask
        return StoredMessage(fields, masks, log_length, dict(self.sources))

    @classmethod
    def from_stored(cls, stored: StoredMessage) -> Message:
        fields = dict(stored.fields)
        masks = dict(stored.masks)
        refine_key = fields.pop("refine_mask", None)
        refine = None if refine_key is None else masks.pop(refine_key)
        clicks = [Click(**click) for click in fields.pop("clicks")]
        drag = fields.pop("drag")
        legacy = fields.pop("hd_strategy", None)  # stored by a server that kept only the strategy's name
        if legacy is not None:
            fields["resolution"] = {"hd_strategy": legacy}
        if drag is not None:
            drag = Drag(drag["name"], tuple(drag["start"]), tuple(drag["end"]))  # type: ignore[arg-type]
        return cls(
            masks=masks, clicks=clicks, drag=drag, sources=stored.sources, refine_mask=refine, **fields
        )


@dataclass
class LiveSession:
    id: str
    chat: ChatSession
    owner: str | None  # sha256 of the bearer token the session is bound to
    job: Job | None = None  # the message being answered
    hidden: list[str] = field(default_factory=list)  # objects left out of the picture shown
    shown: tuple[str, np.ndarray] | None = None  # (fingerprint of what it shows, picture): the last view


@dataclass(frozen=True)
class Mark:
    """A change to the mask named ``name``: found at ``point`` or in ``box``, painted (``mask``), or
    forgotten (all None)."""

    name: str
    point: tuple[int, int] | None = None
    box: tuple[int, int, int, int] | None = None
    mask: np.ndarray | None = None


class SessionManager:
    """Creates, finds and runs the sessions under ``data_dir``; loaded sessions stay in memory."""

    def __init__(
        self,
        service: EditorService,
        planner: Planner,
        data_dir: Path,
        keep_loaded: int = 32,
        storage: ServerStorage | None = None,
    ):
        self.service = service
        self.planner = planner
        self.folder = data_dir / "sessions"
        self.keep_loaded = keep_loaded  # sessions held in memory; the others wait on disk
        storage = storage or ServerStorage()
        self.max_sessions = storage.max_sessions
        self.retention_s = storage.session_retention_s
        self._live: OrderedDict[str, LiveSession] = OrderedDict()
        self._lock = threading.Lock()
        self.expire()
        for row in service.store.unfinished("message"):  # cut off by a crash or a stop: answered now
            self._resume(row)

    # -- finding -----------------------------------------------------------------------------

    def create(self, image: np.ndarray, masks: Mapping[str, np.ndarray], token: str | None) -> LiveSession:
        session_id = secrets.token_urlsafe(18)
        folder = self.folder / session_id
        with self._lock:  # the count and the new folder together, so a burst cannot pass the limit
            self.expire()
            self._check_room()
            folder.mkdir(parents=True)
        try:
            chat = ChatSession.start(image, folder, self.planner, self.service.engine, dict(masks))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        owner = None if token is None else _fingerprint(token)
        text = json.dumps({"token_sha256": owner}).encode()
        write_atomically(folder / OWNER_FILE, lambda handle: handle.write(text))
        live = self._attach(LiveSession(session_id, chat, owner))
        with self._lock:
            self._hold(live)
        return live

    def get(self, session_id: str, token: str | None) -> LiveSession:
        """The session if it exists and the caller may see it; otherwise a 404 (never a 403)."""
        if not SESSION_ID.fullmatch(session_id):
            raise RequestError(404, NOT_FOUND.format(id=session_id))
        with self._lock:
            live = self._live.get(session_id) or self._load(session_id)
            self._live.move_to_end(session_id)
        if live.owner is not None and (
            token is None or not hmac.compare_digest(live.owner, _fingerprint(token))
        ):
            raise RequestError(404, NOT_FOUND.format(id=session_id))
        self._touch(live)
        return live

    # -- bounds ------------------------------------------------------------------------------

    def _check_room(self) -> None:
        """A 429 when ``max_sessions`` exist, saying when the least recently used one expires."""
        used = sorted(_last_use(folder) for folder in self._folders())
        if len(used) < self.max_sessions:
            return
        retry = max(1, round(used[0] + self.retention_s - time.time()))
        raise RequestError(
            429, f"the server holds its limit of {self.max_sessions} chat sessions; a session unused "
            f"for {self.retention_s / 3600:g} hours is deleted: try again in {retry} s",
            headers={"Retry-After": str(retry)},
        )  # fmt: skip

    def expire(self) -> None:
        """Delete the sessions (and their files) unused for ``retention_s`` seconds, unless busy."""
        cutoff = time.time() - self.retention_s
        for folder in self._folders():
            live = self._live.get(folder.name)
            busy = live is not None and live.job is not None and not live.job.finished.is_set()
            if not busy and _last_use(folder) < cutoff:
                self._live.pop(folder.name, None)
                shutil.rmtree(folder, ignore_errors=True)

    def _folders(self) -> list[Path]:
        return [path for path in self.folder.iterdir() if path.is_dir()] if self.folder.is_dir() else []

    def _touch(self, live: LiveSession) -> None:
        owner = self.folder / live.id / OWNER_FILE
        try:
            if time.time() - owner.stat().st_mtime > TOUCH_EVERY_S:
                owner.touch()
        except OSError:  # deleted meanwhile: the next request is a 404
            pass

    def _load(self, session_id: str) -> LiveSession:
        folder = self.folder / session_id
        if not (folder / SESSION_FILE).is_file() or not (folder / OWNER_FILE).is_file():
            raise RequestError(404, NOT_FOUND.format(id=session_id))
        try:
            owner = json.loads((folder / OWNER_FILE).read_text(encoding="utf-8"))["token_sha256"]
            chat = ChatSession.resume(folder, self.planner, self.service.engine)
        except (SessionError, OSError, KeyError, ValueError) as exc:
            raise RequestError(500, f"session {session_id!r} cannot be resumed: {exc}") from None
        live = LiveSession(session_id, chat, owner, hidden=_read_hidden(folder / VIEW_FILE))
        return self._hold(self._attach(live))

    def _hold(self, live: LiveSession) -> LiveSession:
        """Keep ``live`` in memory, letting the least recently used idle sessions go (to disk)."""
        self._live[live.id] = live
        idle = [key for key, held in self._live.items() if held.job is None or held.job.finished.is_set()]
        for key in idle[: max(0, len(self._live) - self.keep_loaded)]:
            del self._live[key]
        return live

    def _attach(self, live: LiveSession) -> LiveSession:
        resolver = self.service.text_resolver  # automatic detection when the models are here
        live.chat.finder = resolver
        live.chat.detector = resolver if isinstance(resolver, ObjectFinder) else None
        # The server opens no file a client names: an insert's source must be an upload, so the chat
        # may read only inside a folder that holds nothing.
        live.chat.scope = FileScope(self.folder / live.id / "no-files")
        return live

    # -- changing ----------------------------------------------------------------------------

    def send(
        self,
        live: LiveSession,
        text: str | None,
        masks: Mapping[str, np.ndarray],
        clicks: list[Click],
        replace_masks: bool,
        choice: int | None,
        drag: Drag | None = None,
        said: str | None = None,
        resolution: Mapping[str, Any] | None = None,
        sources: Mapping[str, np.ndarray] | None = None,
        refine_mask: np.ndarray | None = None,
    ) -> Job:
        """Queue a message (and the marks that come with it) on the model worker.

        The message is ``text``, the answer ``choice`` to the pending question, or a ``drag``;
        ``said`` is how a ``text`` shows in the conversation (a gesture's plan JSON as "hide boy").
        ``resolution`` is how a large photo is edited (ResolutionParams fields given, by name; the
        rest: the engine's); ``sources`` are the pictures an insert of this message may take
        objects from, by the name the instruction gives them; ``refine_mask`` marks features the
        edit must not copy into a removed object's hole.
        """
        chat = live.chat
        if choice is not None and (chat.question is None or not 0 <= choice < len(chat.question.choices)):
            raise RequestError(409, "there is no question with that answer any more; send a new message")
        if choice is None and drag is None and not (text and text.strip()):
            raise RequestError(400, "no message: send what to do in the form field 'text'")
        message = Message(
            text, dict(masks), clicks, replace_masks, choice, drag, said, check_resolution(resolution or {}),
            dict(sources or {}), refine_mask,
        )  # fmt: skip
        store = self.service.store
        with self._lock:
            self._check_idle(live)
            job_id = new_job_id()
            store.add_message(job_id, live.id, message.stored(len(chat.log)))
            try:
                live.job = self.service.worker.submit(partial(self._answer, live, job_id, message), job_id)
            except RequestError:
                store.forget(job_id)
                raise
            return live.job

    def _resume(self, row: JobRow) -> None:
        """Queue again a message cut off by a restart, unless its reply was saved before it."""
        store = self.service.store
        try:
            live = self._load(str(row.session))
            stored = store.message(row.id)
            message = Message.from_stored(stored)
        except (RequestError, OSError, ValueError, KeyError, TypeError) as exc:
            detail = exc.message if isinstance(exc, RequestError) else f"{type(exc).__name__}: {exc}"
            store.mark(row.id, "failed", f"the message could not be answered after a restart: {detail}", 500)
            return
        if len(live.chat.log) > stored.log_length:  # answered; only the job's end was not written
            store.mark(row.id, "done")
            return
        task = partial(self._answer, live, row.id, message)
        live.job = self.service.worker.submit(task, row.id, bounded=False)

    def _answer(self, live: LiveSession, job_id: str, message: Message, progress: ProgressCallback) -> Reply:
        """Run a queued message on the worker, keeping its job's state in the store."""
        store = self.service.store
        store.mark(job_id, "running")
        try:
            reply = self._reply(live.chat, message, progress)
        except Interrupted:
            store.mark(job_id, "queued")  # the server stops: answered after the restart
            raise
        except Exception as exc:
            failure = as_request_error(exc)
            store.mark(job_id, "failed", failure.message, failure.status)
            raise
        store.mark(job_id, "done")
        return reply

    @speaking(WEB)  # the worker thread does not share the request's context
    def _reply(self, chat: ChatSession, message: Message, progress: ProgressCallback) -> Reply:
        segmenter = self.service.point_segmenter
        own = getattr(self.service.engine, "resolution", None)
        chat.resolution = resolution_given(own, message.resolution) if message.resolution else None
        chat.sources = dict(message.sources)
        chat.refine_mask = message.refine_mask
        try:
            marked = dict(message.masks)
            for click in message.clicks:
                marked[click.name] = segmenter.segment_point(chat.turn.image[..., :3], click.x, click.y)
            if marked or message.replace_masks:
                chat.set_masks(marked, replace=message.replace_masks)
            if message.choice is not None:
                return chat.choose(message.choice, progress)
            if message.drag is not None:
                drag = message.drag
                return chat.drag(drag.name, drag.start, drag.end, progress)
            assert message.text is not None
            said = message.said.strip() if message.said and message.said.strip() else None
            return chat.respond(message.text, progress, said=said)
        except LayereditError as exc:  # a bad click or mask: said in the chat, too
            chat.note(Reply(str(exc), "error", chat.current))
            raise

    def mark(self, live: LiveSession, mark: Mark) -> Job:
        """Queue a change to one mask of the current picture (segmenting runs on the model worker)."""
        if not mark.name.strip():
            raise RequestError(400, "a mark needs a name, e.g. 'lamp'")
        chat = live.chat
        segmenter = self.service.point_segmenter

        def change(progress: ProgressCallback) -> np.ndarray | None:
            progress(f"marking {mark.name}", 0, 1)
            image = chat.turn.image[..., :3]
            found = mark.mask
            if mark.point is not None:
                found = segmenter.segment_point(image, *mark.point)
            elif mark.box is not None:
                found = segmenter.segment_box(image, mark.box)
            masks = dict(chat.turn.masks)
            masks.pop(mark.name.strip().lower(), None)
            if found is not None:
                masks[mark.name] = found
            chat.set_masks(masks, replace=True)
            progress(f"marking {mark.name}", 1, 1)
            return found

        return self._run(live, change)

    def hide(self, live: LiveSession, names: list[str]) -> None:
        """Show the picture without the objects ``names`` (a view setting: no turn, edits keep it)."""
        hidden = list(dict.fromkeys(name.strip().lower() for name in names if name.strip()))
        text = json.dumps({"hidden": hidden}).encode()
        write_atomically(self.folder / live.id / VIEW_FILE, lambda handle: handle.write(text))
        live.hidden = hidden

    def shown_picture(self, live: LiveSession) -> np.ndarray:
        """The current picture as the view shows it: the hidden objects taken out (rendered once)."""
        turn = live.chat.turn
        hidden = {name: mask for name, mask in turn.masks.items() if name in live.hidden and mask.any()}
        if not hidden:
            return turn.image
        fingerprint = hashlib.blake2b(turn.image.tobytes(), digest_size=16)
        for name in sorted(hidden):  # a hidden object marked again is rendered again
            fingerprint.update(name.encode() + b"\0" + np.packbits(hidden[name]).tobytes())
        key = fingerprint.hexdigest()
        if live.shown is not None and live.shown[0] == key:
            return live.shown[1]
        plan = {"operations": [{"op": "remove", "target": {"phrase": name}} for name in hidden]}
        engine = self.service.engine

        def render(progress: ProgressCallback) -> np.ndarray:
            return edit(turn.image, plan, hidden, engine=engine, progress=progress).image

        job = self.service.worker.submit(render)
        job.wait()
        if job.error is not None:
            raise RequestError(422, f"cannot hide {', '.join(hidden)}: {job.error}")
        live.shown = (key, job.result)
        return job.result

    def step(self, live: LiveSession, direction: str) -> Reply:
        """Undo or redo at once (no model runs), unless a message is still being answered."""
        with self._lock:
            self._check_idle(live)
            return live.chat.respond(direction)

    def _run(self, live: LiveSession, task: Any) -> Job:
        """Run ``task`` on the worker now (a mark: not kept across restarts; the client waits for it)."""
        with self._lock:
            self._check_idle(live)
            live.job = self.service.worker.submit(task)
            return live.job

    @staticmethod
    def _check_idle(live: LiveSession) -> None:
        if live.job is not None and not live.job.finished.is_set():
            raise RequestError(409, "this session is still answering the last message; wait for it")

    # -- showing -----------------------------------------------------------------------------

    def view(self, live: LiveSession) -> dict[str, Any]:
        """The session as the page and API clients see it (pictures as URLs)."""
        chat = live.chat
        base = f"/v1/sessions/{live.id}"
        turns = []
        for number, turn in enumerate(list(chat.turns)):
            turns.append(
                {
                    "number": number,
                    "instruction": turn.instruction,
                    "summary": None if turn.plan is None else turn.plan.summary(),
                    "plan": None if turn.plan is None else turn.plan.model_dump(exclude_none=True),
                    "image": f"{base}/turns/{number}/image.png",
                    "layers": None
                    if turn.result is None
                    else {kind: f"{base}/turns/{number}/layers.{kind}" for kind in ("zip", "psd", "ora")},
                    "masks": {
                        name: f"{base}/turns/{number}/masks/{quote(name, safe='')}.png" for name in turn.masks
                    },
                }
            )
        question = None
        if chat.question is not None:
            question = {
                "text": chat.question.text,
                "missing": chat.question.missing,
                "choices": [
                    {"label": c.label, "mask": None if c.mask is None else f"{base}/choices/{n}.png"}
                    for n, c in enumerate(chat.question.choices)
                ],
            }
        busy = None
        job = live.job
        if job is not None and not job.finished.is_set():
            busy = {
                "job": job.id,
                "status": job.status,
                "stage": job.stage,
                "done": job.done,
                "total": job.total,
                "jobs_ahead": self.service.worker.jobs_ahead(job),
            }
        return {
            "id": live.id,
            "planner": chat.planner_name,
            "current": chat.current,
            "can_undo": chat.current > 0,
            "can_redo": chat.current + 1 < len(turns),
            "turns": turns,
            "messages": list(chat.log),
            "question": question,
            "busy": busy,
            # What the page shows: the current picture, or it without the hidden objects.
            "hidden": [name for name in live.hidden if name in chat.turn.masks],
            "shown": f"{base}/shown.png",
        }

    def turn_mask(self, live: LiveSession, number: int, name: str) -> np.ndarray:
        turn = self._turn(live, number)
        if name not in turn.masks:
            raise RequestError(404, f"turn {number} has no mask named {name!r}")
        return turn.masks[name]

    def turn_layers(self, live: LiveSession, number: int) -> EditResult:
        """The edit of turn ``number`` with its layers, for the layer downloads."""
        turn = self._turn(live, number)
        if turn.result is None:
            raise RequestError(
                404, f"turn {number} has no layers: they are kept for the edits made since the server started"
            )
        return turn.result

    def turn_image(self, live: LiveSession, number: int) -> np.ndarray:
        return self._turn(live, number).image

    def choice_picture(self, live: LiveSession, number: int) -> np.ndarray:
        """The current picture with the object of answer ``number`` tinted."""
        question = live.chat.question
        if question is None or not 0 <= number < len(question.choices):
            raise RequestError(404, f"no answer {number} to a pending question")
        mask = question.choices[number].mask
        picture = live.chat.turn.image[..., :3].copy()
        if mask is not None:
            picture[mask] = (0.45 * picture[mask] + 0.55 * CHOICE_TINT).astype(np.uint8)
        return picture

    @staticmethod
    def _turn(live: LiveSession, number: int) -> Any:
        turns = live.chat.turns
        if not 0 <= number < len(turns):
            raise RequestError(404, f"no turn {number}; this session has turns 0 to {len(turns) - 1}")
        return turns[number]


def _read_hidden(path: Path) -> list[str]:
    if not path.is_file():
        return []
    try:
        return [str(name) for name in json.loads(path.read_text(encoding="utf-8"))["hidden"]]
    except (OSError, KeyError, TypeError, ValueError):
        return []  # a damaged view setting shows everything rather than losing the session
