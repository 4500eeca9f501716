"""The edit-plan schema: what validates, what does not, and how errors read."""

from __future__ import annotations

import json
import re

import pytest

from layeredit.agent.errors import PlannerError
from layeredit.agent.rules import RulePlanner
from layeredit.plan import OP_NAMES, EditPlan, PlanError, Target, plan_json_schema


def parse(*operations: dict) -> EditPlan:
    return EditPlan.parse({"operations": list(operations)})


def test_every_op_round_trips_through_json():
    plan = parse(
        {"op": "move", "target": {"phrase": "cat"}, "dx": -0.2},
        {"op": "move", "target": {"phrase": "cat"}, "to": {"x": 0.5, "y": 0.5}},
        {"op": "remove", "target": {"phrase": "lamp", "select": "leftmost"}},
        {"op": "resize", "target": {"phrase": "tree"}, "scale": 1.5},
        {"op": "flip", "target": {"phrase": "car"}},
        {"op": "duplicate", "target": {"phrase": "ball"}, "dx": 0.2},
        {"op": "swap", "target": {"phrase": "cat"}, "other": {"phrase": "dog"}},
        {"op": "reorder", "target": {"phrase": "box"}, "position": "back"},
        {"op": "pan", "dx": 0.1},
        {"op": "zoom_out", "scale": 0.8},
        {
            "op": "insert",
            "source": "other.png",
            "target": {"phrase": "bottle", "select": "index", "index": 1},
        },
    )
    assert [op.op for op in plan.operations] == ["move", *OP_NAMES]
    assert EditPlan.parse(plan.to_json()) == plan
    assert plan.operations[4].axis == "horizontal"


def test_targets_are_listed_once_in_order_without_insert_sources():
    plan = parse(
        {"op": "move", "target": {"phrase": "cat"}, "dx": 0.1},
        {"op": "swap", "target": {"phrase": "cat"}, "other": {"phrase": "dog"}},
        {"op": "insert", "source": "x.png", "target": {"phrase": "vase"}},
    )
    assert [t.key for t in plan.targets()] == ["cat", "dog"]


@pytest.mark.parametrize(
    "operation, message",
    [
        ({"op": "teleport", "target": {"phrase": "cat"}}, "unknown op 'teleport'; known ops: move, remove"),
        ({"target": {"phrase": "cat"}}, "operation has no 'op'"),
        ({"op": "resize", "target": {"phrase": "cat"}, "scale": 0}, "operations.0.resize.scale"),
        ({"op": "resize", "target": {"phrase": "cat"}, "scale": -2}, "greater than 0"),
        (
            {"op": "resize", "target": {"phrase": "cat"}, "scale": 1.0},
            "scale 1.0 leaves the object unchanged",
        ),
        ({"op": "zoom_out", "scale": 1.2}, "less than 1"),
        ({"op": "zoom_out", "scale": 0}, "greater than 0"),
        ({"op": "move", "target": {"phrase": "cat"}}, "a move needs a nonzero 'dx'/'dy' or a 'to' point"),
        ({"op": "move", "target": {"phrase": "cat"}, "dx": 0.1, "to": {"x": 0, "y": 0}}, "not both"),
        ({"op": "move", "target": {"phrase": "cat"}, "dx": 1.5}, "less than 1"),
        ({"op": "move", "target": {"phrase": "cat"}, "to": {"x": 2, "y": 0}}, "to.x"),
        ({"op": "pan"}, "a pan needs a nonzero 'dx' or 'dy'"),
        ({"op": "flip", "target": {"phrase": "cat"}, "axis": "diagonal"}, "axis"),
        ({"op": "remove", "target": {"phrase": "  "}}, "target phrase is blank"),
        ({"op": "remove", "target": {"phrase": "cat", "select": "index"}}, "needs an 'index'"),
        ({"op": "remove", "target": {"phrase": "cat", "index": 2}}, "only meaningful with select='index'"),
        ({"op": "remove", "target": {"phrase": "cat"}, "colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_plans_get_a_specific_message(operation, message):
    with pytest.raises(PlanError) as caught:
        parse(operation)
    assert str(caught.value).startswith("invalid edit plan: ")
    assert message in str(caught.value)


def test_an_empty_plan_and_bad_json_are_rejected():
    with pytest.raises(PlanError, match="operations: List should have at least 1 item"):
        EditPlan.parse({"operations": []})
    with pytest.raises(PlanError, match="not valid JSON"):
        EditPlan.parse("{operations: ")


def test_json_schema_lists_every_op_for_tool_calling():
    schema = plan_json_schema()
    ops = {
        definition["properties"]["op"]["const"]
        for definition in schema["$defs"].values()
        if "op" in definition.get("properties", {})
    }
    assert ops == set(OP_NAMES)
    json.dumps(schema)  # serialisable as is


def test_target_keys_distinguish_selections():
    assert Target(phrase="cat").key == "cat"
    assert Target(phrase="cat", select="leftmost").key == "cat[leftmost]"
    assert Target(phrase="cat", select="index", index=1).key == "cat[1]"


@pytest.mark.parametrize(
    "plan, expected",
    [
        ({"operations": [{"op": "remove", "target": {"phrase": "cat"}}] * 65},
         "a plan has at most 64 operations, not 65"),
        ({"operations": [{"op": "remove", "target": {"phrase": "c" * 201}}]},
         "operations.0.remove.target: target phrase is longer than 200 characters"),
        ({"operations": [{"op": "remove", "target": {"phrase": "cat", "description": "d" * 20_001}}]},
         "target description is longer than 20000 characters"),
        ({"operations": [{"op": "remove", "target": {"phrase": "cat", "select": "index", "index": 10**6}}]},
         "index must be between -1024 and 1023"),
        ({"operations": [{"op": "insert", "source": "s" * 4097, "target": {"phrase": "cat"}}]},
         "insert source is longer than 4096 characters"),
    ],
    ids=["operations", "phrase", "description", "index", "source"],
)  # fmt: skip
def test_every_length_and_count_of_a_plan_is_bounded(plan, expected):
    with pytest.raises(PlanError, match=re.escape(expected)):
        EditPlan.parse(plan)


def test_a_plan_at_the_bounds_is_taken():
    target = {"phrase": "c" * 200, "description": "d" * 20_000, "select": "index", "index": -1024}
    assert len(EditPlan.parse({"operations": [{"op": "remove", "target": target}] * 64}).operations) == 64


def test_the_bounds_stay_out_of_the_schema_an_llm_grammar_is_built_from():
    text = json.dumps(plan_json_schema())
    assert "maxLength" not in text and "maxItems" not in text


def test_an_object_named_in_more_words_than_a_plan_takes_is_one_planner_error():
    with pytest.raises(PlannerError, match="target phrase is longer than 200 characters") as caught:
        RulePlanner().plan("remove the " + "very " * 60 + "big cat", (100, 100))
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400
