"""The rule planner: worked examples from shared/data, extra phrasings, errors and pronouns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from layeredit.agent import PlannerError, RulePlanner
from layeredit.plan import EditPlan, Target

DEV_FILE = Path(__file__).resolve().parent / "data" / "planner_dev.jsonl"
SIZE = (1000, 1000)


def _dev_examples() -> list[Any]:
    lines = DEV_FILE.read_text().splitlines()
    return [pytest.param(json.loads(line), id=json.loads(line)["text"]) for line in lines if line]


def _value_matches(key: str, expected: Any, actual: Any) -> bool:
    """The dev file's convention: "+"/"-"/"0" are signs (for scale: above/below 1), else exact."""
    if key in ("dx", "dy", "scale") and isinstance(expected, str):
        reference = 1.0 if key == "scale" else 0.0
        actual = reference if actual is None and key != "scale" else actual
        if actual is None:
            return False
        return {"+": actual > reference, "-": actual < reference, "0": actual == 0}[expected]
    if isinstance(expected, float | int) and not isinstance(expected, bool):
        return actual is not None and abs(actual - expected) <= 1e-6
    return expected == actual


def _target_matches(expected: dict[str, Any], actual: dict[str, Any] | None) -> bool:
    if actual is None:
        return False
    want, got = expected["phrase"].lower(), actual["phrase"].lower()
    # the head noun decides; where the example names adjectives ("red car") they must match too
    if want.split()[-1] != got.split()[-1] or (len(want.split()) > 1 and want != got):
        return False
    return expected.get("select") == actual.get("select") and (
        expected.get("index") == actual.get("index")
    )


def op_matches(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    """Whether a planned operation agrees with an expected one (only the keys it gives)."""
    for key, value in expected.items():
        if key in ("target", "other"):
            if not _target_matches(value, actual.get(key)):
                return False
        elif not _value_matches(key, value, actual.get(key)):
            return False
    return True


def assert_plan(plan: EditPlan, expected_ops: list[dict[str, Any]]) -> None:
    actual_ops = json.loads(plan.to_json())["operations"]
    names = [op["op"] for op in actual_ops]
    assert names == [op["op"] for op in expected_ops], actual_ops
    for expected, actual in zip(expected_ops, actual_ops, strict=True):
        assert op_matches(expected, actual), f"expected {expected}, got {actual}"


@pytest.fixture(scope="module")
def planner() -> RulePlanner:
    return RulePlanner()


@pytest.mark.parametrize("example", _dev_examples())
def test_dev_examples(planner: RulePlanner, example: dict[str, Any]) -> None:
    assert_plan(planner.plan(example["text"], tuple(example["size"])), example["ops"])


def _move(phrase: str, dx: float = 0.0, dy: float = 0.0, **target: Any) -> dict[str, Any]:
    return {"op": "move", "target": {"phrase": phrase, **target}, "dx": dx, "dy": dy}


def _to(phrase: str, x: float, y: float, **target: Any) -> dict[str, Any]:
    return {"op": "move", "target": {"phrase": phrase, **target}, "to": {"x": x, "y": y},
            "dx": 0.0, "dy": 0.0}


def _op(op: str, phrase: str, **fields: Any) -> dict[str, Any]:
    target = {key: fields.pop(key) for key in ("select", "index") if key in fields}
    return {"op": op, "target": {"phrase": phrase, **target}, **fields}


# Image size 1000 x 800 so that pixel amounts show which side they were divided by.
EXTRA_CASES: list[tuple[str, list[dict[str, Any]]]] = [
    # moving: synonyms, amounts, places
    ("nudge the lamp to the right", [_move("lamp", dx=0.1)]),
    ("drag the chair 80px down", [_move("chair", dy=0.1)]),
    ("slide the vase upward by 10%", [_move("vase", dy=-0.1)]),
    ("push the car leftwards a lot", [_move("car", dx=-0.35)]),
    ("move the boat a little to the right", [_move("boat", dx=0.1)]),
    ("move the boat far to the left", [_move("boat", dx=-0.35)]),
    ("shift the kite up 100 pixels and left 50 pixels", [_move("kite", dx=-0.05, dy=-0.125)]),
    ("move the ball up and right by 10%", [_move("ball", dx=0.1, dy=-0.1)]),
    ("move the cat a quarter of the image to the right", [_move("cat", dx=0.25)]),
    ("move the cat 2000 pixels to the left", [_move("cat", dx=-0.99)]),
    ("lower the flag a bit", [_move("flag", dy=0.1)]),
    ("raise the balloon 80 pixels", [_move("balloon", dy=-0.1)]),
    ("move the cat towards the top left", [_move("cat", dx=-0.2, dy=-0.2)]),
    ("put the cat in the top right corner", [_to("cat", 1.0, 0.0)]),
    ("move the tree into the bottom-left corner", [_to("tree", 0.0, 1.0)]),
    ("place the dog at the bottom", [_to("dog", 0.5, 1.0)]),
    ("move the boat to the middle of the image", [_to("boat", 0.5, 0.5)]),
    ("center the logo", [_to("logo", 0.5, 0.5)]),
    ("move the cat to the left edge", [_to("cat", 0.0, 0.5)]),
    ("move the cat to x=100, y=200", [_to("cat", 0.1, 0.25)]),
    ("move the cat to (0.3, 0.4)", [_to("cat", 0.3, 0.4)]),
    ("put the cat on the left", [_move("cat", dx=-0.2)]),
    ("move the cat on the right to the left", [_move("cat", dx=-0.2, select="rightmost")]),
    # removing
    ("erase all the boxes", [_op("remove", "box", select="all")]),
    ("delete every puppy", [_op("remove", "puppy", select="all")]),
    ("eliminate both cats", [_op("remove", "cat", select="all")]),
    ("remove the glasses", [_op("remove", "glasses")]),
    ("take the trash out", [_op("remove", "trash")]),
    ("get the cat out of the picture", [_op("remove", "cat")]),
    ("make the cat disappear", [_op("remove", "cat")]),
    ("remove the cup, the spoon and the fork",
     [_op("remove", "cup"), _op("remove", "spoon"), _op("remove", "fork")]),
    ("delete the people", [_op("remove", "person", select="all")]),
    ("remove the smallest of the balls", [_op("remove", "ball", select="smallest")]),
    ("remove the last bottle", [_op("remove", "bottle", select="rightmost")]),
    ("remove the first cat from the right", [_op("remove", "cat", select="rightmost")]),
    ("remove the third cat from the right", [_op("remove", "cat", select="index", index=-3)]),
    ("remove the top shelf", [_op("remove", "shelf", select="topmost")]),
    ("remove the cat that is at the bottom", [_op("remove", "cat", select="bottommost")]),
    ("remove the cat under the table", [_op("remove", "cat")]),
    # resizing
    ("make the tree a bit bigger", [_op("resize", "tree", scale=1.15)]),
    ("make the tree much smaller", [_op("resize", "tree", scale=0.5)]),
    ("grow the flower by 50%", [_op("resize", "flower", scale=1.5)]),
    ("shrink the flower by 50%", [_op("resize", "flower", scale=0.5)]),
    ("scale the balloon down", [_op("resize", "balloon", scale=0.75)]),
    ("make the house three times bigger", [_op("resize", "house", scale=3.0)]),
    ("make the house 3 times smaller", [_op("resize", "house", scale=0.333333)]),
    ("resize the dog to 80%", [_op("resize", "dog", scale=0.8)]),
    ("enlarge the moon 2x", [_op("resize", "moon", scale=2.0)]),
    ("double the size of the cat", [_op("resize", "cat", scale=2.0)]),
    ("shrink the cat to a quarter of its size", [_op("resize", "cat", scale=0.25)]),
    ("make the cat 20% larger", [_op("resize", "cat", scale=1.2)]),
    ("increase the size of the dog by 25%", [_op("resize", "dog", scale=1.25)]),
    ("make the biggest kite smaller", [_op("resize", "kite", select="largest", scale=0.75)]),
    # flipping, duplicating, swapping, layers
    ("turn the glass upside down", [_op("flip", "glass", axis="vertical")]),
    ("mirror the boy", [_op("flip", "boy", axis="horizontal")]),
    ("clone the tree to the left", [_op("duplicate", "tree", dx=-0.2, dy=0.0)]),
    ("copy the bird", [_op("duplicate", "bird", dx=0.0, dy=0.0)]),
    ("duplicate the star 80 pixels up", [_op("duplicate", "star", dx=0.0, dy=-0.1)]),
    ("exchange the apple and the orange",
     [{"op": "swap", "target": {"phrase": "apple"}, "other": {"phrase": "orange"}}]),
    ("switch the cup with the mug",
     [{"op": "swap", "target": {"phrase": "cup"}, "other": {"phrase": "mug"}}]),
    ("swap the two cats",
     [{"op": "swap", "target": {"phrase": "cat", "select": "index", "index": 0},
       "other": {"phrase": "cat", "select": "index", "index": 1}}]),
    ("bring the dog forward", [_op("reorder", "dog", position="front")]),
    ("send the cat behind the dog", [_op("reorder", "cat", position="back")]),
    ("move the cat to the back", [_op("reorder", "cat", position="back")]),
    # camera
    ("pan right a bit", [{"op": "pan", "dx": 0.1, "dy": 0.0}]),
    ("move the camera up", [{"op": "pan", "dx": 0.0, "dy": -0.2}]),
    ("zoom out by 20%", [{"op": "zoom_out", "scale": 0.8}]),
    ("zoom out a lot", [{"op": "zoom_out", "scale": 0.6}]),
    ("zoom out 2x", [{"op": "zoom_out", "scale": 0.5}]),
    # several clauses, pronouns, politeness
    ("Remove the lamp. Then move the chair to the right.",
     [_op("remove", "lamp"), _move("chair", dx=0.2)]),
    ("remove the lamp; after that, enlarge the vase",
     [_op("remove", "lamp"), _op("resize", "vase", scale=1.3)]),
    ("move the cat and the dog to the left", [_move("cat", dx=-0.2), _move("dog", dx=-0.2)]),
    ("move the cat left and the dog right", [_move("cat", dx=-0.2), _move("dog", dx=0.2)]),
    ("make the cat bigger and the dog smaller",
     [_op("resize", "cat", scale=1.3), _op("resize", "dog", scale=0.75)]),
    ("make a copy of the cat and move the copy to the right",
     [_op("duplicate", "cat", dx=0.0, dy=0.0), _move("cat", dx=0.2)]),
    ("could you please move the cat to the left for me, thanks", [_move("cat", dx=-0.2)]),
    ("I'd like you to flip the boat upside down please",
     [_op("flip", "boat", axis="vertical")]),
    ("insert the dog from Dogs/Rex.PNG in the top left corner",
     [{"op": "insert", "source": "Dogs/Rex.PNG", "target": {"phrase": "dog"},
       "to": {"x": 0.0, "y": 0.0}, "scale": 1.0}]),
]


@pytest.mark.parametrize(("text", "expected"), EXTRA_CASES, ids=[c[0] for c in EXTRA_CASES])
def test_extra_phrasings(planner: RulePlanner, text: str, expected: list[dict[str, Any]]) -> None:
    assert_plan(planner.plan(text, (1000, 800)), expected)


def test_extra_cases_are_exact() -> None:
    # The helper compares only the keys a case gives; every extra case pins its numbers.
    for _, ops in EXTRA_CASES:
        for op in ops:
            assert not any(isinstance(op.get(key), str) for key in ("dx", "dy", "scale"))


@pytest.mark.parametrize("text", ["teleport the cat", "remove the cup and teleport the cat"])
def test_unknown_verb_is_quoted_with_known_verbs(planner: RulePlanner, text: str) -> None:
    with pytest.raises(PlannerError) as caught:
        planner.plan(text, SIZE)
    message = str(caught.value)
    assert 'could not understand "teleport the cat"' in message
    assert "known verbs: move, shift" in message and "zoom out" in message


def test_unknown_trailing_words_are_quoted(planner: RulePlanner) -> None:
    with pytest.raises(PlannerError, match='could not understand "meters"'):
        planner.plan("move the cat 3 meters left", SIZE)


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_instruction(planner: RulePlanner, text: str) -> None:
    with pytest.raises(PlannerError, match="empty instruction"):
        planner.plan(text, SIZE)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("rotate the cat", "rotation is not supported"),
        ("zoom in", "only zooming out"),
        ("resize the cat", "how much?"),
        ("move the cat", "no direction or place"),
        ("move the cat between the dog and the bowl", "between two others is not supported"),
        ("remove the third cat from the top", "counted from the left or from the right"),
        ("add a cat", "insert the dog from dog.png"),
        ("swap the cat", "exactly two objects"),
        ("copy the cat to the top left corner", "not placed at a point"),
        ("move the cat to x=5000, y=10", "outside the image"),
    ],
)
def test_clear_errors(planner: RulePlanner, text: str, fragment: str) -> None:
    with pytest.raises(PlannerError, match=fragment):
        planner.plan(text, SIZE)


def test_planner_error_is_a_value_error() -> None:
    assert issubclass(PlannerError, ValueError)


def test_pronoun_refers_to_previous_turn(planner: RulePlanner) -> None:
    previous = Target(phrase="red car", select="leftmost")
    plan = planner.plan("move it a bit more to the left", SIZE, previous=previous)
    assert plan.operations[0].target == previous
    assert plan.operations[0].dx == pytest.approx(-0.1)


def test_one_takes_noun_from_previous_turn(planner: RulePlanner) -> None:
    plan = planner.plan("now remove the one on the right", SIZE, previous=Target(phrase="cat"))
    assert plan.operations[0].target == Target(phrase="cat", select="rightmost")


def test_pronoun_in_same_instruction_wins_over_previous_turn(planner: RulePlanner) -> None:
    plan = planner.plan("flip the bird and move it left", SIZE, previous=Target(phrase="cat"))
    assert [op.target.phrase for op in plan.operations] == ["bird", "bird"]


def test_verb_without_object_uses_previous_turn(planner: RulePlanner) -> None:
    plan = planner.plan("enlarge a bit", SIZE, previous=Target(phrase="moon"))
    assert plan.operations[0].target.phrase == "moon"
    assert plan.operations[0].scale == pytest.approx(1.15)


@pytest.mark.parametrize("text", ["move it left", "make them bigger", "remove that"])
def test_pronoun_without_antecedent(planner: RulePlanner, text: str) -> None:
    with pytest.raises(PlannerError, match="has nothing to refer to"):
        planner.plan(text, SIZE)


def test_pixels_use_width_and_height(planner: RulePlanner) -> None:
    plan = planner.plan("move the cat 100 pixels right and 100 pixels down", (2000, 500))
    assert (plan.operations[0].dx, plan.operations[0].dy) == (0.05, 0.2)


def _previous(planner: RulePlanner, text: str):
    return planner.plan(text, (1000, 800)).operations[-1]


@pytest.mark.parametrize(
    "text, dx, dy",
    [
        ("move it a bit more", -0.1, 0.0),  # "a bit" along the previous direction
        ("move it again", -0.2, 0.0),  # no amount: the same step once more
        ("nudge it further", -0.1, 0.0),
        ("move it up", 0.0, -0.2),  # a direction of its own wins
    ],
)
def test_a_move_without_direction_repeats_the_previous_one(planner: RulePlanner, text, dx, dy) -> None:
    previous = _previous(planner, "move the cat to the left")
    (move,) = planner.plan(text, (1000, 800), previous).operations
    assert move.target == Target(phrase="cat")
    assert (move.dx, move.dy) == pytest.approx((dx, dy))


def test_repeating_a_diagonal_move_keeps_its_direction(planner: RulePlanner) -> None:
    previous = _previous(planner, "move the ball right by 100 pixels and up by 80 pixels")
    (move,) = planner.plan("move it more", (1000, 800), previous).operations
    assert (move.dx, move.dy) == pytest.approx((0.1, -0.1))
    (far,) = planner.plan("move it a lot more", (1000, 800), previous).operations
    assert far.dx == pytest.approx(0.35)  # the longer side (100 px across) moves by "a lot"
    assert far.dx * 1000 / (-far.dy * 800) == pytest.approx(100 / 80)  # same direction in pixels


def test_only_the_same_kind_of_motion_is_repeated(planner: RulePlanner) -> None:
    previous = _previous(planner, "pan left a bit")
    (pan,) = planner.plan("pan a bit more", (1000, 800), previous).operations
    assert (pan.dx, pan.dy) == pytest.approx((-0.1, 0.0))
    with pytest.raises(PlannerError, match="which direction"):
        planner.plan("move it a bit more", (1000, 800), _previous(planner, "make the cat bigger"))
