"""Scripted chat models and a local OpenAI-compatible server for the agent tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage


class ToolCallingFakeModel(GenericFakeChatModel):
    """A fake chat model that accepts tools (and records them), answering from a script."""

    bound_tools: list[Any] = []
    seen: list[Any] = []

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ToolCallingFakeModel:
        self.bound_tools = list(tools)
        return self

    def _generate(self, messages: list[Any], *args: Any, **kwargs: Any) -> Any:
        self.seen.append(list(messages))
        return super()._generate(messages, *args, **kwargs)


def scripted(*replies: AIMessage | str) -> Iterator[AIMessage | str]:
    return iter(replies)


def plan_call(args: dict[str, Any], call_id: str = "call_1") -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": "submit_edit_plan", "args": args, "id": call_id}])


def send_json(handler: BaseHTTPRequestHandler, status: int, reply: dict[str, Any]) -> None:
    data = json.dumps(reply).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def completion(number: int, model: str, message: dict[str, Any], finish: str, usage: tuple[int, int]) -> dict:
    """An OpenAI ``chat.completion`` answer carrying ``message``."""
    choice = {"index": 0, "finish_reason": finish, "message": {"role": "assistant", **message}}
    prompt, answer = usage
    return {
        "id": f"chatcmpl-{number}", "object": "chat.completion", "created": 0, "model": model,
        "choices": [choice],
        "usage": {"prompt_tokens": prompt, "completion_tokens": answer, "total_tokens": prompt + answer},
    }  # fmt: skip


Served = TypeVar("Served", bound="LocalServer")


class LocalServer:
    """``/v1/chat/completions`` on a free port of 127.0.0.1, running while the ``with`` block does:
    every request body is kept in ``requests`` and answered by :meth:`answer`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append(body)
                send_json(self, *owner.answer(body))

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The HTTP status and JSON reply for the request ``body``."""
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self: Served) -> Served:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeOpenAI(LocalServer):
    """Answers each request with the next scripted tool call."""

    def __init__(self, tool_arguments: list[str]):
        super().__init__()
        self.tool_arguments = list(tool_arguments)

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        number = len(self.requests)
        function = {"name": "submit_edit_plan", "arguments": self.tool_arguments.pop(0)}
        call = {"id": f"call_{number}", "type": "function", "function": function}
        message = {"content": None, "tool_calls": [call]}
        return 200, completion(number, body["model"], message, "tool_calls", (1, 1))


class JsonChatServer(LocalServer):
    """Answers with scripted message contents (JSON text).

    It checks the request as llama.cpp's server would: every message's content must be a string.
    ``reject_formats`` are ``response_format`` types it answers with HTTP 400, like a server without them.
    """

    def __init__(self, answers: list[str], reject_formats: tuple[str, ...] = ()):
        super().__init__()
        self.answers = list(answers)
        self.reject_formats = reject_formats

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        kind = (body.get("response_format") or {}).get("type")
        if not all(isinstance(m.get("content"), str) for m in body["messages"]):
            return 500, {"error": {"message": 'can only concatenate str (not "list") to str'}}
        if kind in self.reject_formats:
            return 400, {"error": {"message": f"response_format {kind} is not supported"}}
        message = {"content": self.answers.pop(0)}
        return 200, completion(len(self.requests), body["model"], message, "stop", (500, 20))
