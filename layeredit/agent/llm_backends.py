"""Where a small-model planner's answers come from: llama.cpp in process, or an OpenAI-compatible server.

Both constrain the answer to the plan's JSON Schema: in process by a llama.cpp grammar built from it,
on a server by ``response_format`` (``json_schema``, falling back to ``json_object`` and then to
nothing for servers that reject it). The model and its grammar are loaded once per process, and
llama.cpp keeps the evaluated prompt, so the fixed prompt prefix is read once, not per request.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import urllib.error
import urllib.request
from functools import cache
from pathlib import Path
from typing import Any

from layeredit.agent.errors import PlannerError
from layeredit.agent.small_llm import Completion, Message
from layeredit.errors import InputError

LOCAL_EXTRA_HINT = "pip install 'layeredit[llm-local]'"
DEFAULT_CONTEXT = 2048
MAX_ANSWER_TOKENS = 256
DEFAULT_BASE_URL = "https://api.openai.com/v1"
REQUEST_TIMEOUT_S = 300.0
# Ways to ask for JSON, most constrained first; a server that rejects one gets the next.
_RESPONSE_FORMATS: tuple[str | None, ...] = ("json_schema", "json_object", None)


class LlamaCppBackend:
    """A GGUF model run in this process by llama-cpp-python, its answers shaped by a JSON grammar."""

    def __init__(self, path: str | Path, context: int = DEFAULT_CONTEXT, threads: int | None = None):
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise InputError(f"no GGUF model file at {self.path}: give --llm llamacpp:PATH.gguf")
        self.model_name = self.path.name
        self.llama = _load_llama(str(self.path), context, threads)
        self._lock = threading.Lock()  # one llama.cpp context serves one request at a time

    def complete(self, messages: list[Message], schema: dict[str, Any]) -> Completion:
        grammar = _grammar(json.dumps(schema, sort_keys=True))
        with self._lock:
            try:
                reply = self.llama.create_chat_completion(
                    messages=messages, grammar=grammar, temperature=0.0, max_tokens=MAX_ANSWER_TOKENS
                )
            except (RuntimeError, ValueError) as exc:  # e.g. a request longer than the context
                raise PlannerError(f"the local model failed: {exc}") from None
        usage = reply.get("usage") or {}
        return Completion(
            reply["choices"][0]["message"].get("content") or "",
            int(usage.get("prompt_tokens", 0)),
            int(usage.get("completion_tokens", 0)),
        )


@cache
def _load_llama(path: str, context: int, threads: int | None) -> Any:
    try:
        from llama_cpp import Llama
    except ImportError:
        raise InputError(f"--llm llamacpp: needs llama-cpp-python: {LOCAL_EXTRA_HINT}") from None
    try:
        model = Llama(model_path=path, n_ctx=context, n_threads=threads, verbose=False)
    except (ValueError, RuntimeError) as exc:
        raise InputError(f"cannot load the GGUF model {path}: {exc}") from None
    # Freed before interpreter shutdown: llama.cpp's own finaliser fails once module globals are gone.
    atexit.register(model.close)
    return model


@cache
def _grammar(schema_json: str) -> Any:
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_json_schema(schema_json, verbose=False)


class OpenAICompatBackend:
    """Any server speaking OpenAI's chat-completions API: OpenAI, llama.cpp server, Ollama, vLLM.

    ``base_url`` and ``api_key`` default to ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``; local
    servers need no key. Messages are plain strings (llama.cpp's server rejects content-part lists).
    """

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None):
        self.model_name = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self._formats = list(_RESPONSE_FORMATS)

    def complete(self, messages: list[Message], schema: dict[str, Any]) -> Completion:
        while True:
            kind = self._formats[0]
            body: dict[str, Any] = {"model": self.model_name, "messages": messages, "temperature": 0}
            body["max_tokens"] = MAX_ANSWER_TOKENS
            if kind == "json_schema":
                wanted = {"name": "edit_plan", "schema": schema}
                body["response_format"] = {"type": "json_schema", "json_schema": wanted}
            elif kind == "json_object":
                body["response_format"] = {"type": "json_object"}
            try:
                reply = self._post(body)
            except _Rejected as rejected:
                if kind is None:
                    raise PlannerError(f"the LLM server at {self.base_url} refused: {rejected}") from None
                self._formats.pop(0)  # this server does not take that response_format: remember, try the next
                continue
            usage = reply.get("usage") or {}
            try:
                text = reply["choices"][0]["message"].get("content") or ""
            except (KeyError, IndexError, TypeError):
                raise PlannerError(f"the LLM server at {self.base_url} sent no chat completion") from None
            tokens = (int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
            return Completion(text, *tokens)

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions", json.dumps(body).encode(), headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace").strip().splitlines()
            message = f"HTTP {exc.code}: {detail[0][:300] if detail else exc.reason}"
            if exc.code in (400, 422, 500, 501):  # what servers answer to a response_format they lack
                raise _Rejected(message) from None
            raise PlannerError(f"the LLM server at {self.base_url} answered {message}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise PlannerError(f"cannot reach the LLM server at {self.base_url}: {reason}") from None
        except json.JSONDecodeError:
            raise PlannerError(f"the LLM server at {self.base_url} answered something not JSON") from None


class _Rejected(Exception):
    """The server rejected the request as made (maybe only its response_format)."""
