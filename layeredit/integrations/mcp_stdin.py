"""Answering malformed JSON-RPC on the MCP server's stdin instead of dropping it silently.

The SDK's stdio transport ignores a line it cannot parse, so a client that sent one waits
forever. Lines pass through a filter first: a line that is not JSON (or holds an integer too long
to read) gets a JSON-RPC parse error, one that is not a JSON-RPC message (by the SDK's own model
of a message: an object ``id``, ``params`` that are not an object) an invalid-request error; the
rest go on to the SDK as it will read them (see :func:`as_read`).

The answers go to the wire through a duplicate of standard output taken before the SDK starts: once
serving, the SDK points descriptor 1 at stderr (so stray output cannot corrupt the protocol) and
writes through a private duplicate of its own, so anything written to ``sys.stdout`` then lands on
stderr. Each answer is one ``write`` of under ``PIPE_BUF`` bytes, which a pipe never interleaves
with another writer's output.
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
from typing import Any, BinaryIO

from mcp.types import jsonrpc_message_adapter
from pydantic import ValidationError

PARSE_ERROR = -32700
INVALID_REQUEST = -32600


def as_read(line: bytes) -> str:
    """``line`` as the SDK's transport will read it, on one line: the SDK ends a line at a carriage
    return too, which in JSON can only be whitespace between tokens, so that becomes a space (a
    message split in two would be dropped twice, never answered). Bytes that are not UTF-8 raise
    UnicodeDecodeError (the SDK would replace them)."""
    return line.decode("utf-8").rstrip("\r\n").replace("\r", " ")


def problem(line: bytes) -> dict[str, Any] | None:
    """The JSON-RPC error answer for a malformed ``line``, or None when it is a message."""
    try:
        text = as_read(line)
        message = json.loads(text)
    except (ValueError, RecursionError) as exc:  # not UTF-8; a 5000-digit number is a ValueError too
        return _error(None, PARSE_ERROR, f"parse error: {str(exc)[:120]}")
    if isinstance(message, list):
        return _error(None, INVALID_REQUEST, "invalid request: send one message a line, not a batch")
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return _error(None, INVALID_REQUEST, "invalid request: expected a JSON-RPC 2.0 object")
    known = isinstance(message.get("method"), str) or "result" in message or "error" in message
    request_id = message.get("id")
    valid_id = isinstance(request_id, str | int) and not isinstance(request_id, bool)
    answer_id = request_id if valid_id and len(str(request_id)) <= 64 else None
    if not known:
        return _error(answer_id, INVALID_REQUEST, "invalid request: no 'method'")
    if "id" in message and not valid_id:  # the SDK would take it for a notification and never answer
        return _error(None, INVALID_REQUEST, "invalid request: 'id' must be a string or an integer")
    try:  # what the SDK would drop with only a line on stderr, read by its own JSON parser
        jsonrpc_message_adapter.validate_json(text, by_name=False)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":  # JSON to Python's parser, not to the SDK's (a lone surrogate)
            return _error(answer_id, PARSE_ERROR, f"parse error: {first['msg']}"[:200])
        where = ".".join(str(part) for part in first["loc"][1:]) or "message"
        return _error(answer_id, INVALID_REQUEST, f"invalid request: {where}: {first['msg']}"[:200])
    return None


def _error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def guard_stdin(source: BinaryIO | None = None, replies: BinaryIO | None = None) -> None:
    """Put the filter between ``source`` (stdin) and the SDK, which then reads ``sys.stdin``;
    answers go to ``replies`` (default: the wire, standard output as it is now)."""
    source = source or sys.stdin.buffer
    if replies is None:
        sys.stdout.flush()
        replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    read_end, write_end = os.pipe()

    def pump() -> None:
        with os.fdopen(write_end, "wb") as sink:
            for line in source:
                if not line.strip():
                    continue
                answer = problem(line)
                if answer is None:
                    sink.write(as_read(line).encode() + b"\n")
                    sink.flush()
                else:
                    replies.write(json.dumps(answer).encode() + b"\n")  # one write: never torn
                    replies.flush()

    threading.Thread(target=pump, name="layeredit-mcp-stdin", daemon=True).start()
    sys.stdin = io.TextIOWrapper(os.fdopen(read_end, "rb"), encoding="utf-8")
