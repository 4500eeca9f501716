"""The chat session driven through stdin, resumed after a kill, and the agentic revision loop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from layeredit.agent.chat import ChatSession
from layeredit.agent.executor import EditAgent, MaskNamesFinder
from layeredit.agent.llm import LLMPlanner
from layeredit.agent.rules import RulePlanner
from layeredit.engine.pixel import PixelEngine
from layeredit.imageio import load_image
from layeredit.tools.resolve import NamedMasks
from tests.agent_fakes import ToolCallingFakeModel, plan_call, scripted
from tests.conftest import SAMPLES

SOCCER = SAMPLES / "soccer"


def chat(*args, stdin: str, cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LAYEREDIT_LLM"}
    return subprocess.run(
        [sys.executable, "-m", "layeredit.cli", "chat", *map(str, args)],
        input=stdin, capture_output=True, text=True, timeout=120, cwd=cwd, env=env,
    )  # fmt: skip


def test_chat_edit_undo_redo_history_save_and_resume(tmp_path):
    session = tmp_path / "session"
    script = "\n".join([
        "move the boy to the left", "move it a bit more to the left", "history", "undo", "undo",
        "undo", "redo", "show plan", "remove the cat", f"save {tmp_path / 'saved.png'}", "quit",
    ])  # fmt: skip
    done = chat(
        SOCCER / "image.jpg",
        "--mask",
        f"boy={SOCCER / 'boy.jpg'}",
        "--session-dir",
        session,
        stdin=script,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count("done: move boy") == 2
    assert "* 2: move it a bit more to the left" in out
    assert "nothing to undo" in out and "redone: move the boy to the left [turn 1]" in out
    assert '"op": "move"' in out
    assert "'cat'" in out and "I can see: boy" in out  # a question back, not a crash
    saved = load_image(tmp_path / "saved.png")
    original = load_image(SOCCER / "image.jpg")
    assert saved.shape == original.shape and not np.array_equal(saved, original)

    resumed = chat("--resume", session, stdin="history\nundo\nundo\nredo\nredo\nquit\n", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "* 1: move the boy to the left" in resumed.stdout
    assert "undone: move the boy to the left [turn 0]" in resumed.stdout
    assert "redone: move it a bit more to the left [turn 2]" in resumed.stdout


def test_pronoun_follows_the_moved_object(tmp_path):
    script = "move the boy left by 100 pixels\nmove it down by 50 pixels\nquit\n"
    done = chat(
        SOCCER / "image.jpg",
        "--mask",
        f"boy={SOCCER / 'boy.jpg'}",
        "--session-dir",
        tmp_path / "s",
        stdin=script,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    state = json.loads((tmp_path / "s" / "session.json").read_text())
    masks = [load_image(tmp_path / "s" / turn["masks"]["boy"])[..., 0] > 127 for turn in state["turns"]]
    centres = [(np.nonzero(m)[1].mean(), np.nonzero(m)[0].mean()) for m in masks]
    assert centres[1][0] < centres[0][0] - 80  # the mask moved left with the boy
    assert centres[2][1] > centres[1][1] + 30 and abs(centres[2][0] - centres[1][0]) < 5


def test_killed_session_resumes_at_its_last_complete_turn(tmp_path):
    session = tmp_path / "session"
    process = subprocess.Popen(
        [sys.executable, "-m", "layeredit.cli", "chat", str(SOCCER / "image.jpg"), "--mask",
         f"boy={SOCCER / 'boy.jpg'}", "--session-dir", str(session)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("make the boy bigger\n")
    process.stdin.flush()
    deadline = time.monotonic() + 60
    while "done:" not in process.stdout.readline():
        assert time.monotonic() < deadline and process.poll() is None
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    resumed = chat("--resume", session, stdin="history\nundo\nredo\nquit\n", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "* 1: make the boy bigger" in resumed.stdout
    assert "undone: make the boy bigger" in resumed.stdout and "redone: make the boy bigger" in resumed.stdout
    assert not list(session.rglob("*.tmp"))


def test_chat_needs_an_image_or_a_session(tmp_path):
    done = chat(stdin="", cwd=tmp_path)
    assert done.returncode == 2 and "give either IMAGE" in done.stderr
    missing = chat("--resume", tmp_path / "nothing", stdin="", cwd=tmp_path)
    assert missing.returncode == 2 and "no chat session" in missing.stderr
    pixel_model = chat(SOCCER / "image.jpg", "--model", tmp_path, stdin="", cwd=tmp_path)
    assert pixel_model.returncode == 2 and "--model only apply to --engine designedit" in pixel_model.stderr


def test_agent_revises_a_plan_once_with_the_detections(soccer):
    image, boy = soccer
    model = ToolCallingFakeModel(
        messages=scripted(
            plan_call({"operations": [{"op": "remove", "target": {"phrase": "child"}}]}, "a"),
            plan_call({"operations": [{"op": "remove", "target": {"phrase": "boy"}}]}, "b"),
        )
    )
    names = NamedMasks({"boy": boy})
    outcome = EditAgent(LLMPlanner(model), names, PixelEngine(), MaskNamesFinder(names)).run(
        image, "remove the kid"
    )
    assert outcome.revised and outcome.result is not None and not outcome.missing
    revision = json.loads(model.seen[-1][1].content)
    assert revision["detected_objects"][0]["label"] == "boy"
    assert revision["previous_plan"]["operations"][0]["target"]["phrase"] == "child"
    assert "child" in revision["problems_with_previous_plan"][0]


def test_agent_says_exactly_what_is_missing_after_the_revision(soccer):
    image, boy = soccer
    still_wrong = plan_call({"operations": [{"op": "remove", "target": {"phrase": "dog"}}]})
    model = ToolCallingFakeModel(messages=scripted(still_wrong, still_wrong))
    names = NamedMasks({"boy": boy})
    outcome = EditAgent(LLMPlanner(model), names, PixelEngine(), MaskNamesFinder(names)).run(
        image, "remove the dog"
    )
    assert outcome.result is None and [m.target.phrase for m in outcome.missing] == ["dog"]
    assert (
        outcome.question is not None and "'dog'" in outcome.question and "I can see: boy" in outcome.question
    )


def test_a_bit_more_repeats_the_last_move(tmp_path):
    script = "move the boy left by 100 pixels\nmove it a bit more\nquit\n"
    done = chat(
        SOCCER / "image.jpg", "--mask", f"boy={SOCCER / 'boy.jpg'}", "--session-dir", tmp_path / "s",
        stdin=script, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    state = json.loads((tmp_path / "s" / "session.json").read_text())
    second = state["turns"][2]["plan"]["operations"][0]
    assert second["op"] == "move" and second["target"]["phrase"] == "boy"
    assert second["dx"] == pytest.approx(-0.1) and second["dy"] == 0


def test_terminal_question_is_answered_by_number_even_after_a_resume(tmp_path, pikachu):
    image, masks = pikachu
    two = {name: masks[name] for name in ("apple", "sunglasses")}
    session = ChatSession.start(image, tmp_path / "s", RulePlanner(), PixelEngine(), two)
    asked = session.handle("remove it")
    choices = ["  1) apple", "  2) sunglasses", "answer with a number, or say something else"]
    assert asked.splitlines()[1:] == choices
    resumed = ChatSession.resume(tmp_path / "s", RulePlanner(), PixelEngine())
    assert resumed.question is not None and resumed.question.choices[1].mask is not None
    assert np.array_equal(resumed.question.choices[1].mask, masks["sunglasses"])
    assert resumed.handle("2") == "done: remove sunglasses [turn 1]"
    assert resumed.question is None and [e["text"] for e in resumed.log if e["role"] == "user"] == [
        "remove it",
        "sunglasses",
    ]
    assert resumed.handle("3").startswith('I don\'t understand "3"')  # no question: a number is no edit


def test_again_repeats_the_last_edit_and_hints_speak_chat_commands(tmp_path):
    script = "again\nmove the boy right by 40 pixels\nagain\nremove the ball\nquit\n"
    done = chat(
        SOCCER / "image.jpg", "--mask", f"boy={SOCCER / 'boy.jpg'}", "--session-dir", tmp_path / "s",
        stdin=script, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "nothing to repeat yet" in done.stdout
    state = json.loads((tmp_path / "s" / "session.json").read_text())
    instructions = [turn["instruction"] for turn in state["turns"]]
    assert instructions == [None, "move the boy right by 40 pixels", "again"]
    assert state["turns"][2]["plan"] == state["turns"][1]["plan"]
    masks = [load_image(tmp_path / "s" / turn["masks"]["boy"])[..., 0] > 127 for turn in state["turns"]]
    lefts = [np.nonzero(mask)[1].min() for mask in masks]
    assert lefts[1] - lefts[0] == pytest.approx(40, abs=2) and lefts[2] - lefts[1] == pytest.approx(40, abs=2)
    # The chat asks for the missing mask with its own command, not the command line's flag.
    assert "type mask ball=PATH" in done.stdout and "--mask" not in done.stdout

def test_a_partly_supported_request_offers_the_rest_answered_by_yes_or_no(tmp_path, soccer):
    image, boy = soccer
    session = ChatSession.start(image, tmp_path / "s", RulePlanner(), PixelEngine(), {"boy": boy})
    asked = session.handle("move the boy left and rotate the ball")
    assert asked.startswith('I can\'t do "rotate the ball": rotation is not supported')
    assert "Shall I just move the boy left?" in asked
    assert session.handle("no") == "ok, nothing changed" and session.current == 0
    session.handle("move the boy left and rotate the ball")
    assert session.handle("yes").startswith("done: move boy (-0.20, +0.00)") and session.current == 1
    assert session.handle("yes").startswith('I don\'t understand "yes"')  # nothing was asked


def test_a_missing_object_is_never_answered_by_another_one(tmp_path):
    """The soccer case: with only a boy marked, "remove the ball" asks for the ball's mask and
    offers no other object; "1", "yes", odd answers never edit the boy nor store his mask as "ball"."""
    odd = ["1", "yes", "7", "\u00b9", "9" * 5000, "maybe"]
    script = "\n".join(["remove the ball", *odd, "history", "quit"])
    done = chat(
        SOCCER / "image.jpg", "--mask", f"boy={SOCCER / 'boy.jpg'}", "--session-dir", tmp_path / "s",
        stdin=script, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "- 'ball': no mask for 'ball'" in out and "1) boy" not in out
    assert "done:" not in out and "remove boy" not in out
    state = json.loads((tmp_path / "s" / "session.json").read_text())
    assert [turn["instruction"] for turn in state["turns"]] == [None]
    assert [sorted(turn["masks"]) for turn in state["turns"]] == [["boy"]]
