"""Requests as people write them: the dev set (tests/data/planner_requests_dev.jsonl), phrasings
written apart from it, and the normaliser, grammar and refusals each on their own."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from layeredit.agent import PlannerError, RulePlanner
from layeredit.agent.errors import UnsupportedEditError
from layeredit.agent.grammar import analyse_noun
from layeredit.agent.normalise import normalise
from layeredit.agent.scope import SUPPORTED, unsupported_reason
from tests.test_planner import assert_plan

REQUESTS = Path(__file__).resolve().parent / "data" / "planner_requests_dev.jsonl"
SIZE = (1000, 1000)
# For each out-of-scope dev request, the words its refusal must contain.
REFUSAL_NAMES = {
    "remove everyone except the bride": "except",
    "make the photo black and white": "recolouring",
    "change the sky to a sunset": "replacing",
    "make him smile": "expression",
    "put a party hat on the dog": "adding new objects",
    "replace the car with a bicycle": "replacing",
    "rotate the whole picture 90 degrees": "rotation",
    "crop it to a square": "cropping",
    "make it look like a watercolor painting": "style",
    "remove the fence and make the grass greener": 'recolouring is not supported: "make the grass greener"',
    "can you fix the lighting on her face?": "retouching",
}
# Out-of-scope requests written apart from the dev set, and what their refusal names.
HELD_OUT_REFUSALS = [
    ("flip the photo horizontally", "the whole picture"),
    ("Can the background be blurred?", "retouching"),
    ("please remove the birds from the sky and make it bluer", '"make it bluer"'),
    ("put the cup on the table", "on or inside another"),
    ("move the chair away from the wall", "away from another"),
    ("make the cup smaller than the plate", "sizes relative to another object"),
    ("Can you put the cat between the two pillows", "between two others"),
    ("could you please move the vase to the center of the table", "on or inside another"),
    ("turn the cat into a tiger", "replacing"),
    ("add a rainbow to the sky", "adding new objects"),
    ("give him a beard", "adding new objects"),
    ("make her eyes open", "expression"),
    ("apply a vintage filter", "style"),
    ("straighten the horizon", "rotation"),
    ("remove the background", "whole background"),
    ("put a copy of the cat on the table", "on or inside another"),
    ("add my grandpa into this family photo", "adding new objects"),
    ("make the sky more blue", "recolouring"),
    ("Can someone remove the people in the background and make it look professional?", "retouching"),
]


def _requests() -> list[Any]:
    lines = [json.loads(line) for line in REQUESTS.read_text().splitlines() if line]
    return [pytest.param(line, id=line["text"]) for line in lines]


@pytest.fixture(scope="module")
def planner() -> RulePlanner:
    return RulePlanner()


@pytest.mark.parametrize("example", _requests())
def test_dev_requests(planner: RulePlanner, example: dict[str, Any]) -> None:
    if not example.get("expect_error"):
        assert_plan(planner.plan(example["text"], tuple(example["size"])), example["ops"])
        return
    with pytest.raises(UnsupportedEditError) as caught:
        planner.plan(example["text"], tuple(example["size"]))
    assert REFUSAL_NAMES[example["text"]] in str(caught.value) and SUPPORTED in str(caught.value)


def _op(op: str, phrase: str, select: str | None = None, **fields: Any) -> dict[str, Any]:
    target = {"phrase": phrase, **({"select": select} if select else {})}
    return {"op": op, "target": target, **fields}


# Written apart from the dev set: the same phenomena in other words.
HELD_OUT = [
    ("Hey guys, can anybody remove the lamp post? Cheers", [_op("remove", "post")]),
    ("(Paid) would someone be able to get rid of the car parked on the left? Will pay $10",
     [_op("remove", "car", "leftmost")]),
    ("delete the bin behind the bench and leave everything else untouched", [_op("remove", "bin")]),
    ("erase the wires, but do not alter the sky", [_op("remove", "wire", "all")]),
    ("move the vase a little to the left without moving the table", [_op("move", "vase", dx="-", dy="0")]),
    ("remove the girl wearing a blue hat", [_op("remove", "girl")]),
    ("get rid of the man's shadow", [_op("remove", "shadow")]),
    ("remove the larger of the two dogs", [_op("remove", "dog", "largest")]),
    ("remove the car in the middle", [_op("remove", "car")]),
    ("change the size of the sign so it is smaller", [_op("resize", "sign", scale="-")]),
    ("make the tree 3 times bigger", [_op("resize", "tree", scale=3.0)]),
    ("shrink the boat by 40%", [_op("resize", "boat", scale=0.6)]),
    ("place the lamp to the right of the sofa",
     [_op("move", "lamp", beside={"anchor": {"phrase": "sofa"}, "side": "right"})]),
    ("put the ball under the chair",
     [_op("move", "ball", beside={"anchor": {"phrase": "chair"}, "side": "below"})]),
    ("move the duck towards the boat", [_op("move", "duck", toward={"phrase": "boat"})]),
    ("make the small dog the same size as the big dog",
     [_op("resize", "small dog", like={"phrase": "big dog"})]),
    ("copy the bird and put the copy beside the tree",
     [_op("duplicate", "bird"), _op("move", "bird", beside={"anchor": {"phrase": "tree"}})]),
    ("remove the glasses on the table", [_op("remove", "glasses")]),
    ("Can someone please remove the people in the background? Would really appreciate it!",
     [_op("remove", "person", "all")]),
    ("hey! can u remove the car from the driveway pls", [_op("remove", "car")]),
    ("Could anyone help remove the shadow on the wall?", [_op("remove", "shadow")]),
    ("Can you make the dog a bit bigger? It looks tiny", [_op("resize", "dog", scale="+")]),
    ("move the lamp slightly to the right so it's centered", [_op("move", "lamp", dx="+", dy="0")]),
    ("remove the power line running across the top of the image", [_op("remove", "power line")]),
    ("move the dog sitting on the grass to the left", [_op("move", "dog", dx="-", dy="0")]),
    ("make the text on the sign bigger", [_op("resize", "text", scale="+")]),
    ("move the dog halfway to the door", [_op("move", "dog", toward={"phrase": "door"}, amount=0.5)]),
    ("can you put the boy right next to the girl please",
     [_op("move", "boy", beside={"anchor": {"phrase": "girl"}})]),
    ("make the lamp on the right as tall as the lamp on the left",
     [_op("resize", "lamp", "rightmost", like={"phrase": "lamp", "select": "leftmost"})]),
    ("move the cat just above the second box",
     [_op("move", "cat", beside={"anchor": {"phrase": "box", "select": "index", "index": 1},
                                 "side": "above"})]),
    ("put another chair beside the table",
     [_op("duplicate", "chair", beside={"anchor": {"phrase": "table"}})]),
    ("move the chair so it's next to the table",
     [_op("move", "chair", beside={"anchor": {"phrase": "table"}})]),
    ("move the cat over to the dog", [_op("move", "cat", beside={"anchor": {"phrase": "dog"}})]),
    ("move the boy next to the girl and make him as tall as her",
     [_op("move", "boy", beside={"anchor": {"phrase": "girl"}}),
      _op("resize", "boy", like={"phrase": "girl"})]),
    ("make the small cup the same size as the big one",
     [_op("resize", "small cup", like={"phrase": "big cup"})]),
    ("resize the dog to the size of the cat", [_op("resize", "dog", like={"phrase": "cat"})]),
    ("Please photoshop my girlfriend out of this picture", [_op("remove", "girlfriend")]),
    ("Remove the braces from her teeth", [_op("remove", "braces")]),
    ("duplicate the bird on the branch and move it up",
     [_op("duplicate", "bird"), _op("move", "bird", dx="0", dy="-")]),
    ("enlarge the logo to 2x and move it to the top",
     [_op("resize", "logo", scale=2.0), _op("move", "logo", to={"x": 0.5, "y": 0.0})]),
    ("remove the cat between the dogs", [_op("remove", "cat")]),
    ("move the toy to the right of the box by a bit",
     [_op("move", "toy", beside={"anchor": {"phrase": "box"}, "side": "right"})]),
]


@pytest.mark.parametrize(("text", "named"), HELD_OUT_REFUSALS, ids=[text for text, _ in HELD_OUT_REFUSALS])
def test_held_out_refusals_name_what_is_not_supported(planner: RulePlanner, text: str, named: str) -> None:
    with pytest.raises(UnsupportedEditError, match=re.escape(named)):
        planner.plan(text, SIZE)


@pytest.mark.parametrize(("text", "expected"), HELD_OUT, ids=[text for text, _ in HELD_OUT])
def test_held_out_phrasings(planner: RulePlanner, text: str, expected: list[dict[str, Any]]) -> None:
    assert_plan(planner.plan(text, SIZE), expected)


@pytest.mark.parametrize(
    ("text", "clauses"),
    [
        ("[Request] could somebody please erase the cone? thx", ["erase the cone"]),
        ("Hi all! remove the dog. Thanks so much, will tip", ["remove the dog"]),
        ("remove the boat and keep everything else the same", ["remove the boat"]),
        ("take the hat off without changing his pose, if possible", ["take the hat off"]),
        ("remove the ex, she is the one on the right", ["remove the ex on the right"]),
    ],
)
def test_normaliser_sets_framing_and_constraints_aside(text: str, clauses: list[str]) -> None:
    assert normalise(text).clauses == clauses


@pytest.mark.parametrize(
    ("words", "phrase", "select"),
    [
        ("the man in the red jacket", "man", None),
        ("the woman holding the balloons", "woman", None),
        ("the dog's leash", "leash", None),
        ("the lens", "lens", None),
        ("the power lines", "power line", "all"),
        ("the car parked", "car", None),
    ],
)
def test_noun_phrase_head_and_selector(words: str, phrase: str, select: str | None) -> None:
    spec = analyse_noun(words.split())
    assert (spec.phrase, spec.select) == (phrase, select)


@pytest.mark.parametrize("clause", ["move the red car left", "make the cat bigger", "paint out the wire",
                                    "remove the cartoon sticker", "crop out the man"])
def test_supported_clauses_are_not_taken_for_unsupported_ones(clause: str) -> None:
    assert unsupported_reason(clause) is None


def test_a_mixed_request_is_refused_whole_and_offers_the_supported_part(planner: RulePlanner) -> None:
    with pytest.raises(UnsupportedEditError) as caught:
        planner.plan("please remove the fence and then make the grass greener", SIZE)
    assert caught.value.clause == "make the grass greener" and caught.value.supported == "remove the fence"


def test_chat_answers_a_mixed_request_with_a_question(tmp_path) -> None:
    from layeredit.agent.chat import ChatSession
    from layeredit.engine.pixel import PixelEngine
    from tests.conftest import SAMPLES

    soccer = SAMPLES / "soccer"
    session = ChatSession.start(soccer / "image.jpg", tmp_path / "chat", RulePlanner(), PixelEngine(),
                                {"boy": str(soccer / "boy.jpg")})
    question = session.handle("move the boy left and make him smile")
    assert question.startswith('I can\'t do "make him smile"')
    assert "Shall I just move the boy left?" in question
    assert session.current == 0
    assert session.handle("yes").startswith("done: move boy (-0.20, +0.00)") and session.current == 1


def test_plain_errors_stay_planner_errors(planner: RulePlanner) -> None:
    with pytest.raises(PlannerError, match="no direction or place"):
        planner.plan("move the cat", SIZE)


def test_an_anchor_pronoun_never_means_the_object_itself(planner: RulePlanner) -> None:
    with pytest.raises(PlannerError, match='"to the left of it" .* has nothing to refer to'):
        planner.plan("move the cup to the left of it", SIZE)


def test_llm_prompt_v2_teaches_relative_placement_with_valid_examples() -> None:
    from layeredit.agent.prompting import DEFAULT_PROMPT_VERSION, PlannerPrompt

    prompt = PlannerPrompt.load(2)  # loading validates every example plan
    assert DEFAULT_PROMPT_VERSION == prompt.version == 2
    plans = [json.dumps(example["plan"]) for example in prompt.examples if "plan" in example]
    assert any('"beside"' in p for p in plans) and any('"toward"' in p for p in plans)
    assert any('"like"' in p for p in plans)
    assert '"beside"' in prompt.system_text(tool_calling=False)  # the JSON Schema carries it too


def test_web_editor_answers_a_mixed_request_with_the_offer() -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from layeredit.server.app import create_app

    with TestClient(create_app()) as client:
        request = {"instruction": "remove the fence and make the grass greener", "width": 64, "height": 64}
        response = client.post("/v1/plan", json=request)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert 'recolouring is not supported: "make the grass greener"' in detail
    assert 'Shall I do only "remove the fence"?' in detail


FRAMES = [
    "Hi everyone! {t}. Thanks in advance!",
    "[Request] could someone please {t}? thx",
    "{t}, and keep everything else the same",
    "I'd really appreciate it if someone could {t}. Will tip $5",
    "{t} but don't change the background",
    "pls {t} if possible",
    "Hello, first time posting here. Can you {t}? Thank you so much!!",
    "{t} without changing anything else",
]


@pytest.mark.parametrize("frame", FRAMES)
def test_framing_never_changes_the_plan(planner: RulePlanner, frame: str) -> None:
    """Every worked example gives the same plan when wrapped in greetings, thanks and asides."""
    for line in (Path(__file__).resolve().parent / "data" / "planner_dev.jsonl").read_text().splitlines():
        text, size = json.loads(line)["text"], tuple(json.loads(line)["size"])
        framed = frame.format(t=text if frame.startswith("{") else text[0].lower() + text[1:])
        assert planner.plan(framed, size) == planner.plan(text, size), framed


@pytest.mark.parametrize(
    ("text", "relation", "anchor"),
    [
        ("the cup to the left of the bowl", "left", ("the", "bowl")),
        ("the cup right next to the big bowl", "beside", ("the", "big", "bowl")),
        ("the bird above the fence", "above", ("the", "fence")),
        ("the toy a bit closer to the box", "toward", ("the", "box")),
        ("the puppy as big as the cat", "like", ("the", "cat")),
        ("the cat between the pillows", "between", ("the", "pillows")),
    ],
)
def test_grammar_reads_a_relation_and_its_anchor(text: str, relation: str, anchor: tuple[str, ...]) -> None:
    from layeredit.agent.grammar import Relative, scan

    relatives = [item for item in scan(text) if isinstance(item, Relative)]
    assert len(relatives) == 1 and relatives[0].relation == relation and relatives[0].anchor == anchor
