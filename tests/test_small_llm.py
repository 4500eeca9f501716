"""Small-model planning: the OpenAI-compatible path against a local server, the hybrid planner and
its checks of a model's plan against the request (with a scripted model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from layeredit.agent.errors import PlannerError, UnsupportedEditError
from layeredit.agent.executor import SeenObject
from layeredit.agent.hybrid import HybridPlanner, UnbackedPlanError
from layeredit.agent.llm import make_planner
from layeredit.agent.llm_backends import OpenAICompatBackend
from layeredit.agent.plan_check import plan_problems
from layeredit.agent.planner_options import PlannerOptions
from layeredit.agent.small_llm import Completion, SmallModelPlanner, SmallPrompt, answer_schema
from layeredit.plan import EditPlan, Target
from tests.agent_fakes import JsonChatServer

SIZE = (1000, 1000)
REMOVE_BALL = {"operations": [{"op": "remove", "target": {"phrase": "ball"}}]}


class ScriptedBackend:
    """A chat backend answering from a script, recording what it was asked."""

    model_name = "scripted"

    def __init__(self, *answers: dict[str, Any] | str):
        self.answers = [a if isinstance(a, str) else json.dumps(a) for a in answers]
        self.asked: list[list[dict[str, str]]] = []

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> Completion:
        self.asked.append(messages)
        return Completion(self.answers.pop(0), prompt_tokens=100, completion_tokens=10)


def _hybrid(*answers: dict[str, Any] | str) -> tuple[HybridPlanner, ScriptedBackend]:
    backend = ScriptedBackend(*answers)
    return HybridPlanner(SmallModelPlanner(backend)), backend


def test_the_prompt_is_short_and_its_examples_are_valid_plans():
    prefix = SmallPrompt.load().prefix()
    assert prefix[0]["role"] == "system" and "refuse" in prefix[0]["content"]
    assert [m["role"] for m in prefix[1:3]] == ["user", "assistant"]
    # ~4 characters a token: the whole fixed prefix stays well under 1,000 tokens
    assert sum(len(m["content"]) for m in prefix) < 2600
    assert SmallPrompt.load().version == 2 and SmallPrompt.load(1).version == 1  # released versions stay
    for answer in [m["content"] for m in prefix if m["role"] == "assistant"]:
        data = json.loads(answer)
        assert "refuse" in data or EditPlan.parse(data)


def test_the_answer_schema_puts_the_kind_of_edit_first_and_lets_the_model_refuse():
    schema = answer_schema()
    plan, refuse = schema["anyOf"]
    assert refuse["required"] == ["refuse"]
    move = schema["$defs"]["Move"]
    assert list(move["properties"])[0] == "op" and move["required"] == ["op", "target"]
    assert "Insert" not in schema["$defs"] and '"title"' not in json.dumps(schema)
    half_index = {"phrase": "cat", "select": "index"}  # an index select without its index cannot be written
    chosen, indexed = schema["$defs"]["Target"]["anyOf"]
    assert "index" not in chosen["properties"]["select"]["enum"] and indexed["required"][-1] == "index"
    assert set(half_index) < set(indexed["properties"])


def test_openai_compatible_server_gets_plain_string_content_and_a_json_schema():
    with JsonChatServer([json.dumps(REMOVE_BALL)]) as server:
        planner = SmallModelPlanner(OpenAICompatBackend("qwen", server.base_url, api_key=""))
        seen = [SeenObject("ball", 0.9, (0, 0, 5, 5))]
        plan = planner.plan("the ball should be gone", SIZE, detections=seen)
    assert plan == EditPlan.parse(REMOVE_BALL)
    (request,) = server.requests
    assert all(isinstance(m["content"], str) for m in request["messages"])
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["schema"] == answer_schema()
    asked = request["messages"][-1]["content"]
    assert asked.startswith('Request: "the ball should be gone"') and "Objects in the photo: ball" in asked
    assert planner.usage.prompt_tokens == 500 and planner.usage.completion_tokens == 20


def test_a_server_without_json_schema_falls_back_to_json_mode_and_remembers():
    answers = [json.dumps(REMOVE_BALL)] * 2
    with JsonChatServer(answers, reject_formats=("json_schema",)) as server:
        planner = SmallModelPlanner(OpenAICompatBackend("llama", server.base_url, api_key=""))
        planner.plan("the ball should be gone", SIZE)
        planner.plan("the ball should be gone", SIZE)
    kinds = [(r.get("response_format") or {}).get("type") for r in server.requests]
    assert kinds == ["json_schema", "json_object", "json_object"]


def test_an_invalid_plan_is_retried_with_the_error_then_a_refusal_is_a_planner_error():
    backend = ScriptedBackend({"operations": [{"op": "move", "target": {"phrase": "boy"}}]}, {"refuse": "no"})
    with pytest.raises(PlannerError, match="declined the instruction: no"):
        SmallModelPlanner(backend).plan("move the boy", SIZE)
    retry = backend.asked[1][-1]["content"]
    assert retry.startswith("Error: ") and "a move needs a nonzero" in retry


def test_cli_plans_through_an_openai_compatible_server(tmp_path):
    with JsonChatServer([json.dumps(REMOVE_BALL)]) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LAYEREDIT_"))}
        done = subprocess.run(
            [sys.executable, "-m", "layeredit.cli", "plan", "the ball should be gone", "--llm", "openai:qwen",
             "--llm-base-url", server.base_url],
            capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert EditPlan.parse(done.stdout) == EditPlan.parse(REMOVE_BALL)
    assert len(server.requests) == 1


def test_make_planner_builds_the_hybrid_unless_asked_for_the_model_alone(tmp_path):
    assert isinstance(make_planner(PlannerOptions(llm="openai:qwen", llm_base_url="http://127.0.0.1:9/v1")),
                      HybridPlanner)  # fmt: skip
    alone = make_planner(PlannerOptions(llm="openai:qwen", llm_mode="alone"))
    assert isinstance(alone, SmallModelPlanner)
    with pytest.raises(ValueError, match="no GGUF model file"):
        make_planner(f"llamacpp:{tmp_path / 'missing.gguf'}")


def test_hybrid_lets_the_rules_answer_what_they_understand():
    hybrid, backend = _hybrid()
    plan = hybrid.plan("move the boy left", SIZE)
    assert plan.operations[0].op == "move" and not backend.asked


def test_hybrid_keeps_an_out_of_scope_refusal():
    hybrid, backend = _hybrid(REMOVE_BALL)
    with pytest.raises(UnsupportedEditError, match="recolouring"):
        hybrid.plan("make the grass greener", SIZE)
    assert not backend.asked


@pytest.mark.parametrize(
    "instruction",
    [
        "remove the car but keep its reflection",  # a contradiction the rules ask about
        "remove the horse behind the horse",  # which horse: the rules ask
        "take the ball",  # the rules say how to remove
    ],
)
def test_hybrid_keeps_the_rules_questions_and_never_asks_the_model(instruction):
    # bench/planner.py on the held-out set: the model planned "remove the car" for the contradiction
    hybrid, backend = _hybrid({"operations": [{"op": "remove", "target": {"phrase": "car"}}]})
    with pytest.raises(PlannerError) as caught:
        hybrid.plan(instruction, SIZE)
    assert not isinstance(caught.value, UnbackedPlanError) and not backend.asked


def test_hybrid_asks_the_model_when_the_rules_cannot_and_uses_a_backed_plan():
    hybrid, backend = _hybrid(REMOVE_BALL)
    assert hybrid.plan("the ball should be gone", SIZE) == EditPlan.parse(REMOVE_BALL)
    assert len(backend.asked) == 1


def test_hybrid_never_runs_an_invented_selector():
    largest = {"operations": [{"op": "remove", "target": {"phrase": "ball", "select": "largest"}}]}
    hybrid, _ = _hybrid(largest)
    with pytest.raises(UnbackedPlanError, match='does not say "largest" for "ball"') as caught:
        hybrid.plan("the ball should be gone", SIZE)
    assert "could not understand" in str(caught.value) and "Please say it more plainly" in str(caught.value)


def test_hybrid_accepts_a_target_among_the_detected_objects_only():
    dog = {"operations": [{"op": "remove", "target": {"phrase": "dog"}}]}
    hybrid, _ = _hybrid(dog, dog)
    with pytest.raises(UnbackedPlanError, match='"dog" is not in the request'):
        hybrid.plan("that animal should be gone", SIZE)
    seen = [SeenObject("dog", 0.8, (0, 0, 10, 10))]
    assert hybrid.plan("that animal should be gone", SIZE, detections=seen) == EditPlan.parse(dog)


def _op(op: str, phrase: str, select: str | None = None, index: int | None = None, **fields: Any) -> dict:
    target = {"phrase": phrase, "select": select, "index": index}
    return {"op": op, "target": {key: value for key, value in target.items() if value is not None}, **fields}


@pytest.mark.parametrize(
    ("instruction", "plan", "problem"),
    [
        ("boy leftwards", _op("move", "boy", dx=0.2), "does not say to go right"),
        ("boy leftwards", _op("move", "boy", dx=-0.9), "more than the request says"),
        ("the ball should be gone", _op("resize", "ball", scale=1.3), "does not ask to resize"),
        ("ball gone, 2nd from the right", _op("remove", "ball", "index", index=1), "from the right"),
        ("the third person should be gone", _op("remove", "person", "leftmost"), 'does not say "leftmost"'),
        ("cat to the left please", _op("move", "cat", "leftmost", dx=-0.2), 'does not say "leftmost"'),
        ("the vase smaller please", _op("resize", "vase", scale=1.3), "asks for smaller, the plan makes it"),
    ],
)  # fmt: skip
def test_plan_problems_name_what_the_request_does_not_say(instruction, plan, problem):
    problems = plan_problems(EditPlan.parse({"operations": [plan]}), instruction)
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    ("instruction", "plan"),
    [
        ("the balls should be gone", {"op": "remove", "target": {"phrase": "ball", "select": "all"}}),
        ("the cat on the left must go", {"op": "remove", "target": {"phrase": "cat", "select": "leftmost"}}),
        ("the third person should be gone",
         {"op": "remove", "target": {"phrase": "person", "select": "index", "index": 2}}),
        ("boxes should vanish", {"op": "remove", "target": {"phrase": "box", "select": "all"}}),
        ("shove it up a bit more", {"op": "move", "target": {"phrase": "boy"}, "dx": 0.0, "dy": -0.1}),
        ("flip the bell upside down", _op("flip", "bell", axis="vertical")),
        ("mirror the cat", _op("flip", "cat", axis="horizontal")),
        ("turn the sign upside down and mirror the cat",
         {"op": "flip", "target": {"phrase": "cat"}, "axis": "horizontal"}),
    ],
)  # fmt: skip
def test_plan_problems_accept_what_the_request_says(instruction, plan):
    parsed = EditPlan.parse({"operations": [plan]})
    assert plan_problems(parsed, instruction, previous=Target(phrase="boy")) == []


@pytest.mark.parametrize(
    ("instruction", "plan", "problem"),
    [
        ("move the cat to the right of the dog", {"op": "move", "target": {"phrase": "cat"},
         "beside": {"anchor": {"phrase": "dog"}}}, 'says "right of" the dog, the plan drops it'),
        ("make the puppy as big as the cat", _op("resize", "puppy", scale=1.3), "like another object"),
        ("make the moon twice as large", _op("resize", "moon", "all", scale=2.0), 'does not say "all"'),
        # the model alone (after the merge) flipped these upside down; only its "select: all" was caught
        ("mirror the horse horizontally", _op("flip", "horse", axis="vertical"), "does not say to turn"),
        ("mirror the horse so it faces left?", _op("flip", "horse", axis="vertical"), "upside down"),
        ("flip the bird and move it left", _op("flip", "bird", axis="vertical"), "upside down"),
        ("flip the text vertically", _op("flip", "text", axis="horizontal"), "the plan mirrors it"),
        ("delete the third lamp from the right", _op("remove", "lamp", "rightmost"), "the plan takes the"),
    ],
)  # fmt: skip
def test_failures_the_model_alone_showed_in_the_bench_are_caught(instruction, plan, problem):
    problems = plan_problems(EditPlan.parse({"operations": [plan]}), instruction)
    assert any(problem in p for p in problems), problems
    assert not any("does not ask to resize" in p for p in problems)


def test_in_a_chat_an_unbacked_plan_changes_nothing_and_says_why(tmp_path, soccer):
    from layeredit.agent.chat import ChatSession
    from layeredit.engine.pixel import PixelEngine

    image, boy = soccer
    largest = {"operations": [{"op": "remove", "target": {"phrase": "boy", "select": "largest"}}]}
    hybrid, backend = _hybrid(largest)
    session = ChatSession.start(image, tmp_path / "s", hybrid, PixelEngine(), {"boy": boy})
    reply = session.handle("the boy should be gone")
    assert 'does not say "largest" for "boy"' in reply and "known verbs" not in reply
    assert session.current == 0 and len(backend.asked) == 1  # no edit was made


def test_planner_bench_scores_the_rules_on_the_dev_sets_with_nothing_silently_wrong(monkeypatch):
    import importlib.util

    from tests.conftest import REPO

    spec = importlib.util.spec_from_file_location("bench_planner", REPO / "bench" / "planner.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_planner", bench)  # its dataclasses look themselves up there
    spec.loader.exec_module(bench)
    score = bench.score("rules", make_planner("rules"), bench.examples(list(bench.SETS)))
    assert (score.seen, score.wrong, score.refused, score.out_refused) == (103, 0, 0, score.out_of_scope)
    assert score.right == score.seen - score.out_of_scope and score.out_of_scope == 11
    assert score.row().startswith("| rules | 103 | 92/92 (100%) | 0 | 0 | 11/11 |")
