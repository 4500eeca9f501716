"""Chat sessions over the REST API: the same turns as `layeredit chat`, restarts, isolation, LLMs."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the server needs the server extra")
from click.testing import CliRunner  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402 - only after the extra is known to be there

from layeredit.agent.executor import SeenObject  # noqa: E402
from layeredit.agent.llm import LLMPlanner  # noqa: E402
from layeredit.cli import cli  # noqa: E402
from layeredit.engine.pixel import PixelEngine  # noqa: E402
from layeredit.export import psd_export_available  # noqa: E402
from layeredit.imageio import load_image  # noqa: E402
from layeredit.plan import EditPlan  # noqa: E402
from layeredit.server import create_app  # noqa: E402
from layeredit.tools.resolve import box_mask  # noqa: E402
from layeredit.tools.selection import Candidate, select_candidates  # noqa: E402
from tests.agent_fakes import JsonChatServer, ToolCallingFakeModel, plan_call, scripted  # noqa: E402
from tests.conftest import SAMPLES  # noqa: E402

SOCCER = SAMPLES / "soccer"
PIKACHU = SAMPLES / "pikachu"
TURNS = ["move him to the left", "a bit more", "undo"]


def files(image, **masks):
    parts = [("image", ("image.jpg", image.read_bytes(), "image/jpeg"))]
    parts += [("masks", (f"{name}.jpg", path.read_bytes(), "image/jpeg")) for name, path in masks.items()]
    return parts


def start(client, image, **masks) -> str:
    created = client.post("/v1/sessions", files=files(image, **masks))
    assert created.status_code == 201, created.text
    return created.json()["id"]


def picture(client, url: str, **headers) -> np.ndarray:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    with Image.open(io.BytesIO(response.content)) as image:
        return np.asarray(image.convert("RGB"))


def say(client, session_id: str, text: str, **headers) -> dict:
    response = client.post(
        f"/v1/sessions/{session_id}/messages", data={"text": text}, params={"wait": True}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def terminal_turns(tmp_path_factory):
    """The pictures of the three turns typed into `layeredit chat`."""
    folder = tmp_path_factory.mktemp("chat")
    env = {k: v for k, v in os.environ.items() if k != "LAYEREDIT_LLM"}
    done = subprocess.run(
        [sys.executable, "-m", "layeredit.cli", "chat", str(SOCCER / "image.jpg"), "--mask",
         f"boy={SOCCER / 'boy.jpg'}", "--session-dir", str(folder / "s")],
        input="\n".join([*TURNS, "quit"]), capture_output=True, text=True, timeout=120, cwd=folder, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "done: move boy (-0.20" in done.stdout and "done: move boy (-0.10" in done.stdout
    state = json.loads((folder / "s" / "session.json").read_text())
    assert state["current"] == 1
    return [load_image(folder / "s" / turn["image"]) for turn in state["turns"]]


def test_three_turns_match_the_terminal_chat_and_survive_a_restart(tmp_path, terminal_turns):
    with TestClient(create_app(planner="rules", data_dir=tmp_path)) as client:
        created = client.post("/v1/sessions", files=files(SOCCER / "image.jpg", boy=SOCCER / "boy.jpg"))
        assert created.status_code == 201, created.text
        session = created.json()
        sid = session["id"]
        assert len(sid) >= 22 and session["current"] == 0 and session["planner"] == "rules"
        first = say(client, sid, TURNS[0])
        assert first["turns"][1]["summary"].startswith("move boy") and first["current"] == 1
        assert first["messages"][-1]["kind"] == "edit" and first["messages"][-1]["planner"] == "rules"
        assert np.array_equal(picture(client, first["turns"][1]["image"]), terminal_turns[1])

    # A restart: a new server on the same data folder picks the conversation up where it was.
    with TestClient(create_app(planner="rules", data_dir=tmp_path)) as client:
        resumed = client.get(f"/v1/sessions/{sid}").json()
        assert resumed["current"] == 1 and [m["text"] for m in resumed["messages"]][0] == TURNS[0]
        second = say(client, sid, TURNS[1])
        assert second["current"] == 2 and second["turns"][2]["plan"]["operations"][0]["dx"] == pytest.approx(
            -0.1
        )
        assert np.array_equal(picture(client, second["turns"][2]["image"]), terminal_turns[2])
        # the boy's mask followed him, as in the terminal chat
        assert "boy" in second["turns"][2]["masks"]
        undone = client.post(f"/v1/sessions/{sid}/undo").json()
        assert (
            undone["current"] == 1
            and undone["can_redo"]
            and undone["messages"][-1]["text"].startswith("undone")
        )
        current = undone["turns"][undone["current"]]["image"]
        assert np.array_equal(picture(client, current), terminal_turns[1])
        redone = client.post(f"/v1/sessions/{sid}/redo").json()
        assert redone["current"] == 2 and not redone["can_redo"]


def test_another_clients_session_is_not_found(tmp_path):
    with TestClient(create_app(planner="rules", data_dir=tmp_path)) as client:
        mine = {"Authorization": "Bearer my-token"}
        sid = client.post("/v1/sessions", files=files(SOCCER / "image.jpg"), headers=mine).json()["id"]
        assert client.get(f"/v1/sessions/{sid}", headers=mine).status_code == 200
        for headers in ({}, {"Authorization": "Bearer someone-else"}):
            for method, url in (
                ("get", f"/v1/sessions/{sid}"),
                ("get", f"/v1/sessions/{sid}/turns/0/image.png"),
                ("post", f"/v1/sessions/{sid}/undo"),
                ("post", f"/v1/sessions/{sid}/messages"),
            ):
                response = client.request(method, url, headers=headers, data={"text": "remove the boy"})
                assert response.status_code == 404, (method, url, headers)
                assert "no session with id" in response.json()["detail"]
        assert client.get("/v1/sessions/" + "A" * 24).status_code == 404
        assert client.get("/v1/sessions/..%2F..%2Fetc").status_code == 404
        client.app.state.sessions.keep_loaded = 1  # the first session now waits on disk
        open_sid = start(client, SOCCER / "image.jpg")
        assert open_sid != sid and client.get(f"/v1/sessions/{open_sid}").status_code == 200
        assert sid not in client.app.state.sessions._live
        assert client.get(f"/v1/sessions/{sid}").status_code == 404  # still bound to its token on disk
        assert client.get(f"/v1/sessions/{sid}", headers=mine).json()["turns"][0]["number"] == 0


def test_ambiguous_pronoun_asks_with_a_mask_per_choice_and_the_answer_edits(tmp_path):
    with TestClient(create_app(planner="rules", data_dir=tmp_path)) as client:
        masks = {"apple": PIKACHU / "apple.jpg", "sunglasses": PIKACHU / "sunglasses.jpg"}
        sid = start(client, PIKACHU / "image.jpg", **masks)
        asked = say(client, sid, "remove it")
        assert asked["current"] == 0 and asked["messages"][-1]["kind"] == "question"
        labels = [c["label"] for c in asked["question"]["choices"]]
        assert labels == ["apple", "sunglasses"]
        original = load_image(PIKACHU / "image.jpg")
        apple = load_image(PIKACHU / "apple.jpg")[..., 0] > 127
        tinted = picture(client, asked["question"]["choices"][0]["mask"])
        changed = np.abs(tinted.astype(int) - original.astype(int)).max(axis=2) > 0
        assert changed[apple].mean() > 0.9 and not changed[~apple].any()
        answer = client.post(f"/v1/sessions/{sid}/messages", data={"choice": 0}, params={"wait": True}).json()
        assert answer["current"] == 1 and answer["question"] is None
        assert answer["turns"][1]["summary"] == "remove apple"
        assert set(answer["turns"][1]["masks"]) == {"sunglasses"}  # the removed apple's mask is gone
        assert [m["text"] for m in answer["messages"] if m["role"] == "user"] == ["remove it", "apple"]
        stale = client.post(f"/v1/sessions/{sid}/messages", data={"choice": 1})
        assert stale.status_code == 409 and "no question" in stale.json()["detail"]


def test_partly_supported_request_offers_the_supported_part(tmp_path):
    with TestClient(create_app(planner="rules", data_dir=tmp_path)) as client:
        sid = start(client, SOCCER / "image.jpg", boy=SOCCER / "boy.jpg")
        asked = say(client, sid, "move the boy to the left and rotate the ball")
        assert "rotation is not supported" in asked["question"]["text"]
        assert [c["label"] for c in asked["question"]["choices"]] == ["only: move the boy to the left"]
        assert asked["question"]["choices"][0]["mask"] is not None
        done = client.post(f"/v1/sessions/{sid}/messages", data={"choice": 0}, params={"wait": True}).json()
        assert done["current"] == 1 and done["turns"][1]["summary"].startswith("move boy")


def test_marks_by_click_and_by_mask_file_come_with_a_message(tmp_path):
    with TestClient(create_app(planner="rules", data_dir=tmp_path)) as client:
        sid = start(client, SOCCER / "image.jpg")
        clicks = json.dumps([{"name": "boy", "x": 5000, "y": 10}])
        bad = client.post(f"/v1/sessions/{sid}/messages", data={"text": "remove the boy", "clicks": clicks},
                          params={"wait": True})  # fmt: skip
        assert bad.status_code == 422 and "outside the 512x512 image" in bad.json()["detail"]
        mask = [("masks", ("boy.jpg", (SOCCER / "boy.jpg").read_bytes(), "image/jpeg"))]
        done = client.post(f"/v1/sessions/{sid}/messages", data={"text": "remove the boy"}, files=mask,
                           params={"wait": True}).json()  # fmt: skip
        assert done["turns"][1]["summary"] == "remove boy"
        assert set(done["turns"][0]["masks"]) == {"boy"}


class GatedEngine(PixelEngine):
    """The pixel engine that reports a step, then waits until the test lets it finish."""

    def __init__(self):
        super().__init__()
        self.gate = threading.Event()

    def run_scene(self, scene, plan, progress=None, full_size=False):
        if progress is not None:
            progress("denoising", 1, 4)
        assert self.gate.wait(30)
        return super().run_scene(scene, plan, progress, full_size)


def test_a_long_edit_reports_progress_and_the_session_stays_readable(tmp_path):
    engine = GatedEngine()
    with TestClient(create_app(engine=engine, planner="rules", data_dir=tmp_path)) as client:
        sid = start(client, SOCCER / "image.jpg", boy=SOCCER / "boy.jpg")
        started = client.post(f"/v1/sessions/{sid}/messages", data={"text": "remove the boy"})
        assert started.status_code == 202 and started.json()["busy"] is not None
        deadline = time.monotonic() + 20
        while (busy := client.get(f"/v1/sessions/{sid}").json()["busy"])["stage"] != "denoising":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert busy["done"] == 1 and busy["total"] == 4 and busy["status"] == "running"
        refused = client.post(f"/v1/sessions/{sid}/messages", data={"text": "undo"})
        assert refused.status_code == 409 and client.post(f"/v1/sessions/{sid}/undo").status_code == 409
        engine.gate.set()
        while (view := client.get(f"/v1/sessions/{sid}").json())["busy"] is not None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert view["current"] == 1 and view["turns"][1]["summary"] == "remove boy"


MOVE_KID = {"operations": [{"op": "move", "target": {"phrase": "kid"}, "dx": -0.2}]}
MOVE_BOY = {"operations": [{"op": "move", "target": {"phrase": "boy"}, "dx": -0.2}]}


def test_llm_planner_revises_once_and_the_reply_names_it(tmp_path):
    model = ToolCallingFakeModel(messages=scripted(plan_call(MOVE_KID, "a"), plan_call(MOVE_BOY, "b")))
    with TestClient(create_app(planner=LLMPlanner(model), data_dir=tmp_path)) as client:
        sid = start(client, SOCCER / "image.jpg", boy=SOCCER / "boy.jpg")
        done = say(client, sid, "shift the kid left")
    reply = done["messages"][-1]
    assert reply["kind"] == "edit" and "revised" in reply["text"]
    assert reply["planner"] == done["planner"] == "llm ToolCallingFakeModel"
    assert EditPlan.parse(done["turns"][1]["plan"]) == EditPlan.parse(MOVE_BOY)
    revision = json.loads(model.seen[-1][1].content)
    assert revision["detected_objects"][0]["label"] == "boy"


def test_real_openai_client_plans_the_session_from_the_environment(tmp_path, monkeypatch):
    with JsonChatServer([json.dumps(MOVE_BOY)]) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("LAYEREDIT_LLM", "openai:gpt-4o-mini")
        with TestClient(create_app(data_dir=tmp_path)) as client:
            sid = start(client, SOCCER / "image.jpg", boy=SOCCER / "boy.jpg")
            done = say(client, sid, "nudge the lad leftwards")
    assert done["planner"] == "llm gpt-4o-mini"
    assert EditPlan.parse(done["turns"][1]["plan"]) == EditPlan.parse(MOVE_BOY)
    request = server.requests[0]
    assert "nudge the lad leftwards" in json.dumps(request["messages"])
    assert request["response_format"]["type"] == "json_schema"
    assert all(isinstance(message["content"], str) for message in request["messages"])


class TwoBalls:
    """A detector and resolver seeing two balls that match about equally well."""

    found = [((300, 400, 360, 460), 0.81), ((40, 400, 100, 460), 0.78)]

    def detect(self, image, phrase):
        if phrase.split()[-1] != "ball":
            return []
        return [SeenObject("ball", score, tuple(map(float, box))) for box, score in self.found]

    def known_objects(self, image):
        return self.detect(image, "ball")

    def resolve(self, image, target):
        candidates = [Candidate(box=box, area=3600.0, score=score) for box, score in self.found]
        size = (image.shape[1], image.shape[0])
        return [box_mask(self.found[i][0], size) for i in select_candidates(candidates, target)]


def test_two_equally_likely_detections_make_a_question_with_each_ones_mask(tmp_path):
    with TestClient(create_app(planner="rules", data_dir=tmp_path, text_resolver=TwoBalls())) as client:
        sid = start(client, SOCCER / "image.jpg")
        asked = say(client, sid, "remove the ball")
        assert "2 objects match 'ball' about equally well" in asked["question"]["text"]
        choices = asked["question"]["choices"]
        assert [c["label"] for c in choices] == ["ball 1 from the left", "ball 2 from the left"]
        original = load_image(SOCCER / "image.jpg")
        tinted = picture(client, choices[0]["mask"])
        changed = np.argwhere(np.abs(tinted.astype(int) - original.astype(int)).max(axis=2) > 0)
        assert changed.min(axis=0).tolist() == [400, 40] and changed.max(axis=0).tolist() == [459, 99]
        done = client.post(f"/v1/sessions/{sid}/messages", data={"choice": 0}, params={"wait": True}).json()
        assert done["current"] == 1 and done["turns"][1]["summary"] == "remove ball"
        edited = picture(client, done["turns"][1]["image"])
        differs = np.abs(edited.astype(int) - original.astype(int)).max(axis=2) > 8
        assert differs[400:460, 40:100].any() and not differs[400:460, 300:360].any()


def test_a_drag_gesture_moves_the_object_by_the_drag(tmp_path):
    with TestClient(create_app(planner="rules", data_dir=tmp_path)) as client:
        sid = start(client, SOCCER / "image.jpg", boy=SOCCER / "boy.jpg")
        url = f"/v1/sessions/{sid}/messages"
        drag = json.dumps({"name": "boy", "from": [260, 300], "to": [132, 300]})
        done = client.post(url, data={"drag": drag}, params={"wait": True}).json()
        move = done["turns"][1]["plan"]["operations"][0]
        assert move["target"] == {"phrase": "boy"} and move["dx"] == pytest.approx(-0.25) and move["dy"] == 0
        assert done["messages"][-2]["text"] == "drag the boy by (-128, +0) px"
        assert done["turns"][1]["instruction"] == done["turns"][1]["summary"] == "move boy (-0.25, +0.00)"
        still = json.dumps({"name": "boy", "from": [260, 300], "to": [260, 300]})
        refused = client.post(url, data={"drag": still}, params={"wait": True})
        assert refused.status_code == 422 and "cannot drag 'boy'" in refused.json()["detail"]
        broken = client.post(url, data={"drag": '{"name": "boy"}'})
        assert broken.status_code == 422 and "drag must be JSON like" in broken.json()["detail"]


def test_serve_refuses_a_bad_llm_before_starting(tmp_path, monkeypatch):
    monkeypatch.delenv("LAYEREDIT_LLM", raising=False)
    done = CliRunner().invoke(cli, ["serve", "--llm", "gpt4", "--data-dir", str(tmp_path / "d")])
    assert isinstance(done.exception, ValueError)
    assert "--llm must be 'rules' or PROVIDER:MODEL" in str(done.exception)
    assert "editor on" not in done.output and not (tmp_path / "d").exists()


def test_a_plan_sent_by_a_gesture_shows_as_said_and_its_layers_download(tmp_path):
    with TestClient(create_app(planner="rules", data_dir=tmp_path)) as client:
        sid = start(client, SOCCER / "image.jpg", boy=SOCCER / "boy.jpg")
        plan = json.dumps({"operations": [{"op": "remove", "target": {"phrase": "boy"}}]})
        done = client.post(
            f"/v1/sessions/{sid}/messages", data={"text": plan, "said": "hide boy"}, params={"wait": True}
        ).json()
        assert done["current"] == 1 and done["messages"][-2]["text"] == "hide boy"
        assert done["turns"][1]["summary"] == "remove boy"
        links = done["turns"][1]["layers"]
        archive = client.get(links["zip"])
        assert archive.status_code == 200, archive.text
        with zipfile.ZipFile(io.BytesIO(archive.content)) as packed:
            names = packed.namelist()
        assert names[0].startswith("00_") and {"layers.ora", "plan.json"} <= set(names)
        for kind in ("psd", "ora") if psd_export_available() else ("ora",):
            response = client.get(links[kind])
            assert response.status_code == 200 and response.content, response.text
        assert client.get(f"/v1/sessions/{sid}/turns/1/layers.tif").status_code == 404


def test_a_missing_object_is_never_answered_by_another_one(tmp_path):
    """The soccer case over REST: "remove the ball" with only a boy marked offers no choice, so
    choice=0 is refused and odd answers edit nothing; no mask is ever stored under "ball"."""
    with TestClient(create_app(planner="rules", data_dir=tmp_path)) as client:
        sid = start(client, SOCCER / "image.jpg", boy=SOCCER / "boy.jpg")
        asked = say(client, sid, "remove the ball")
        assert asked["question"]["choices"] == [] and asked["question"]["missing"] == ["ball"]
        assert client.post(f"/v1/sessions/{sid}/messages", data={"choice": 0}).status_code == 409
        for odd in ["1", "yes", "\u00b9", "9" * 5000, "maybe"]:
            again = say(client, sid, odd)
            assert again["current"] == 0, odd
        final = client.get(f"/v1/sessions/{sid}").json()
        assert len(final["turns"]) == 1 and final["turns"][0]["masks"].keys() == {"boy"}
