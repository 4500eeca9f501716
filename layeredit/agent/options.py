"""The planner option, defined once: which planner turns instructions into edit plans."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PlannerOptions:
    llm: str | None = field(
        default=None,
        metadata={
            "metavar": "PROVIDER:MODEL",
            "help": "Planner: 'rules' (offline, the default) or a LangChain chat model such as "
            "openai:gpt-4o-mini (default from $LAYEREDIT_LLM).",
        },
    )
