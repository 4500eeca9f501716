"""The LLM planner: any LangChain chat model turns an instruction into an :class:`EditPlan`.

The model is bound to exactly two side-effect-free tools, ``submit_edit_plan`` (its parameters are
the EditPlan JSON Schema) and ``decline_instruction``; whatever it answers is only ever parsed and
validated, so an instruction can make the planner return a plan or an error and nothing else.
Models without tool calling answer in JSON with the schema in the system prompt.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from PIL import Image

from layeredit.agent.errors import PlannerError
from layeredit.agent.planner_options import PlannerOptions
from layeredit.agent.prompting import DEFAULT_PROMPT_VERSION, DetectionLike, PlannerPrompt, request_json
from layeredit.agent.small_llm import SmallModelPlanner
from layeredit.errors import InputError
from layeredit.plan import Antecedent, EditPlan, PlanError, plan_json_schema

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, BaseMessage

PLAN_TOOL = "submit_edit_plan"
DECLINE_TOOL = "decline_instruction"
DEFAULT_MAX_RETRIES = 2
IMAGE_LONGEST_SIDE = 512
AGENT_EXTRA_HINT = "pip install 'layeredit[agent]'"


class Planner(Protocol):
    def plan(
        self, instruction: str, image_size: tuple[int, int], previous: Antecedent | None = None
    ) -> EditPlan:
        """The edit plan for ``instruction``; raises :class:`PlannerError` when there is none."""
        ...


class _BadReply(Exception):
    """A model answer that is not a valid plan; the message is fed back to the model."""


def make_planner(options: PlannerOptions | str | None = None) -> Planner:
    """The planner ``options`` name: the rules (the default), or a model behind the rules (hybrid).

    ``llamacpp:PATH.gguf`` runs a local model in process, ``openai:MODEL`` talks to any
    OpenAI-compatible server (both answer in schema-constrained JSON with a short prompt for small
    models); any other ``PROVIDER:MODEL`` such as ``anthropic:claude-…`` is a LangChain chat model.
    A string is the ``--llm`` value alone; without one, ``LAYEREDIT_LLM`` decides.
    """
    if not isinstance(options, PlannerOptions):
        options = PlannerOptions(llm=options)
    spec = options.spec
    from layeredit.agent.rules import RulePlanner

    if spec == "rules":
        return RulePlanner()
    model = _model_planner(spec, options)
    if options.llm_mode == "alone":
        return model
    from layeredit.agent.hybrid import HybridPlanner

    return HybridPlanner(model)


def _model_planner(spec: str, options: PlannerOptions) -> LLMPlanner | SmallModelPlanner:
    provider, sep, model_name = spec.partition(":")
    if not sep or not provider or not model_name:
        raise InputError(
            "--llm must be 'rules' or PROVIDER:MODEL such as llamacpp:PATH.gguf or openai:gpt-4o-mini, "
            f"got {spec!r}"
        )
    if provider == "llamacpp":
        from layeredit.agent.llm_backends import LlamaCppBackend

        return SmallModelPlanner(LlamaCppBackend(model_name))
    if provider == "openai":
        from layeredit.agent.llm_backends import OpenAICompatBackend

        return SmallModelPlanner(OpenAICompatBackend(model_name, options.llm_base_url))
    try:
        from langchain.chat_models import init_chat_model
    except ImportError:
        raise InputError(f"the LLM planner needs LangChain: {AGENT_EXTRA_HINT}") from None
    try:
        model = init_chat_model(spec)
    except ImportError as exc:
        raise InputError(
            f"LLM provider {provider!r} needs its LangChain integration: {_first_line(exc)}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - providers raise anything from a missing key to a bad name
        raise PlannerError(f"cannot start the LLM {spec!r}: {_first_line(exc)}") from None
    return LLMPlanner(model)


class LLMPlanner:
    """Plans with a LangChain chat model, retrying with the validation error on invalid output.

    ``send_image`` None means: send a downscaled image when the model's profile says it reads images.
    """

    def __init__(
        self,
        model: BaseChatModel,
        *,
        max_retries: int = DEFAULT_MAX_RETRIES,
        prompt_version: int = DEFAULT_PROMPT_VERSION,
        send_image: bool | None = None,
    ):
        self.model = model
        self.max_retries = max_retries
        self.prompt = PlannerPrompt.load(prompt_version)
        profile = getattr(model, "profile", None) or {}
        self.send_image = bool(profile.get("image_inputs")) if send_image is None else send_image
        self._bound, self.tool_calling = _bind_plan_tools(model, profile)

    def plan(
        self,
        instruction: str,
        image_size: tuple[int, int],
        previous: Antecedent | None = None,
        *,
        image: np.ndarray | None = None,
        detections: Sequence[DetectionLike] = (),
    ) -> EditPlan:
        request = request_json(instruction, image_size, previous, detections)
        return self._ask(request, image)

    def revise(
        self,
        instruction: str,
        image_size: tuple[int, int],
        failed_plan: EditPlan,
        problems: Sequence[str],
        detections: Sequence[DetectionLike],
        previous: Antecedent | None = None,
        image: np.ndarray | None = None,
    ) -> EditPlan:
        """A new plan after ``failed_plan`` could not be grounded, given what was detected."""
        request = request_json(instruction, image_size, previous, detections, failed_plan, problems)
        return self._ask(request, image)

    def _ask(self, request: str, image: np.ndarray | None) -> EditPlan:
        from langchain_core.messages import HumanMessage, SystemMessage

        # A plain string unless there is an image: some servers (llama.cpp's) reject content-part lists.
        content: str | list[str | dict[str, Any]] = request
        if image is not None and self.send_image:
            content = [{"type": "text", "text": request}, image_block(image)]
        messages: list[BaseMessage] = [
            SystemMessage(self.prompt.system_text(self.tool_calling)),
            HumanMessage(content),
        ]
        problem = ""
        for _attempt in range(self.max_retries + 1):
            reply = self._invoke(messages)
            try:
                return read_reply(reply)
            except _BadReply as bad:
                problem = str(bad)
                messages += [reply, *feedback_messages(reply, problem)]
        raise PlannerError(
            f"the LLM gave no valid edit plan in {self.max_retries + 1} attempts; last problem: {problem}"
        )

    def _invoke(self, messages: list[BaseMessage]) -> AIMessage:
        try:
            return self._bound.invoke(messages)
        except Exception as exc:  # noqa: BLE001 - network, auth and quota errors all end the same way
            raise PlannerError(f"the LLM call failed: {type(exc).__name__}: {_first_line(exc)}") from None


def plan_tools() -> list[dict[str, Any]]:
    """The only two things the planner model can do: submit a plan or decline."""
    return [
        {
            "type": "function",
            "function": {
                "name": PLAN_TOOL,
                "description": "Submit the edit plan that carries out the user's photo-editing request.",
                "parameters": plan_json_schema(),
            },
        },
        {
            "type": "function",
            "function": {
                "name": DECLINE_TOOL,
                "description": "Decline a request that is not a photo edit a plan can express.",
                "parameters": {
                    "type": "object",
                    "properties": {"reason": {"type": "string", "description": "One sentence: why."}},
                    "required": ["reason"],
                },
            },
        },
    ]


def _bind_plan_tools(model: BaseChatModel, profile: dict[str, Any]) -> tuple[Any, bool]:
    if profile.get("tool_calling") is False:
        return model, False
    try:
        if profile.get("tool_choice") is False:
            return model.bind_tools(plan_tools()), True
        return model.bind_tools(plan_tools(), tool_choice="any"), True
    except NotImplementedError:
        return model, False


def read_reply(reply: AIMessage) -> EditPlan:
    """The plan in a model answer; :class:`PlannerError` if it declined, ``_BadReply`` if invalid."""
    if reply.tool_calls:
        call = reply.tool_calls[0]
        if call["name"] == DECLINE_TOOL:
            raise PlannerError(f"the planner declined the instruction: {call['args'].get('reason', '')}")
        if call["name"] != PLAN_TOOL:
            raise _BadReply(f"there is no tool {call['name']!r}; call {PLAN_TOOL} or {DECLINE_TOOL}")
        return _validated(call["args"])
    if reply.invalid_tool_calls:
        call = reply.invalid_tool_calls[0]
        raise _BadReply(f"the arguments of {call.get('name')} are not valid JSON: {call.get('error')}")
    data = _json_object(reply.text)
    if "decline" in data and "operations" not in data:
        raise PlannerError(f"the planner declined the instruction: {data['decline']}")
    return _validated(data)


def _validated(data: dict[str, Any]) -> EditPlan:
    try:
        return EditPlan.parse(data)
    except PlanError as exc:
        raise _BadReply(str(exc)) from None


def _json_object(text: str) -> dict[str, Any]:
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    body = (fenced.group(1) if fenced else text).strip()
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end < start:
        raise _BadReply("the answer contains no JSON object; answer with the plan as one JSON object")
    try:
        data = json.loads(body[start : end + 1])
    except json.JSONDecodeError as exc:
        raise _BadReply(f"the answer is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _BadReply("the answer must be a JSON object")
    return data


def feedback_messages(reply: AIMessage, problem: str) -> list[BaseMessage]:
    """Tell the model what was wrong, in the form its API expects after its kind of answer."""
    from langchain_core.messages import HumanMessage, ToolMessage

    retry = f"Error: {problem}. Fix it and answer again"
    if not reply.tool_calls:
        return [HumanMessage(f"{retry} with one JSON object only.")]
    # Every tool call needs an answer before the model may speak again; only the first one counts.
    first, *rest = reply.tool_calls
    messages: list[BaseMessage] = [
        ToolMessage(f"{retry} by calling {PLAN_TOOL}.", tool_call_id=first["id"] or PLAN_TOOL)
    ]
    messages += [
        ToolMessage("Ignored: call one tool at a time.", tool_call_id=c["id"] or PLAN_TOOL) for c in rest
    ]
    return messages


def image_block(image: np.ndarray) -> dict[str, Any]:
    """A downscaled JPEG of ``image`` as a LangChain standard image content block."""
    picture = Image.fromarray(image)
    picture.thumbnail((IMAGE_LONGEST_SIDE, IMAGE_LONGEST_SIDE))
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, format="JPEG", quality=85)
    return {
        "type": "image",
        "base64": base64.b64encode(buffer.getvalue()).decode(),
        "mime_type": "image/jpeg",
    }


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def plan_instruction(
    instruction: str,
    image_size: tuple[int, int],
    llm: PlannerOptions | str | None = None,
    image: np.ndarray | None = None,
) -> EditPlan:
    """The plan for ``instruction`` from the planner ``llm`` names (see :func:`make_planner`).

    Plan JSON is taken as it is, whichever planner is configured.
    """
    options = llm if isinstance(llm, PlannerOptions) else PlannerOptions(llm=llm)
    if options.spec == "rules" or instruction.lstrip().startswith("{"):
        from layeredit.agent.plans import make_plan

        return make_plan(instruction, image_size)
    planner = make_planner(options)
    if hasattr(planner, "revise"):  # planners that read the picture (LLMs, the hybrid)
        return planner.plan(instruction, image_size, image=image)
    return planner.plan(instruction, image_size)
