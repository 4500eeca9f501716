"""Which planner reads the instructions: declared once, turned into the same flags in every command."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

LLM_ENV_VAR = "LAYEREDIT_LLM"


@dataclass(frozen=True)
class PlannerOptions:
    llm: str | None = field(default=None, metadata={"metavar": "PROVIDER:MODEL", "help": (
        "Planner: 'rules' (offline, the default), llamacpp:PATH.gguf (a local model in process), "
        "openai:MODEL (any OpenAI-compatible server: OpenAI, llama.cpp server, Ollama, vLLM) or another "
        f"LangChain PROVIDER:MODEL [default: ${LLM_ENV_VAR} or rules]."
    )})  # fmt: skip
    llm_base_url: str | None = field(default=None, metadata={"metavar": "URL", "help": (
        "Base URL of the OpenAI-compatible server for --llm openai:MODEL, e.g. http://127.0.0.1:8080/v1 "
        "[default: $OPENAI_BASE_URL or OpenAI]; the key comes from $OPENAI_API_KEY."
    )})  # fmt: skip
    llm_mode: Literal["hybrid", "alone"] = field(default="hybrid", metadata={"help": (
        "hybrid: the rules plan what they fully understand and the model's plans for the rest are "
        "checked against the request; alone: the model plans everything (for comparison)."
    )})  # fmt: skip

    @property
    def spec(self) -> str:
        """The planner named by --llm, else by the environment, else the rules."""
        return (self.llm or os.environ.get(LLM_ENV_VAR) or "rules").strip()
