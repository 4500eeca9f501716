"""Marks (click, box, painted), hidden objects and the web wording, through the session API."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the server needs the server extra")
from fastapi.testclient import TestClient  # noqa: E402

from layeredit.server import create_app  # noqa: E402
from tests.conftest import SAMPLES  # noqa: E402
from tests.synthetic import AROUND, INSIDE, iou, object_mask, picture, png  # noqa: E402

SOCCER = SAMPLES / "soccer"
CODE = re.compile(r"masks=|PATH|\{'|--mask|0x[0-9a-f]+")


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(planner="rules", data_dir=tmp_path)) as client:
        yield client


def start(client, data: bytes, name: str = "blob.png", **masks: bytes) -> str:
    files = [("image", (name, data))] + [("masks", (f"{n}.png", m)) for n, m in masks.items()]
    created = client.post("/v1/sessions", files=files)
    assert created.status_code == 201, created.text
    return created.json()["id"]


def stored_mask(client, view: dict, name: str) -> np.ndarray:
    url = view["turns"][view["current"]]["masks"][name]
    return np.asarray(Image.open(io.BytesIO(client.get(url).content)).convert("L")) > 127


def test_a_click_and_a_box_each_store_the_objects_mask(client):
    sid = start(client, png(picture()))
    clicked = client.post(f"/v1/sessions/{sid}/marks", data={"name": "Blob", "x": INSIDE[0], "y": INSIDE[1]})
    assert clicked.status_code == 200, clicked.text
    assert iou(stored_mask(client, clicked.json(), "blob"), object_mask()) > 0.9
    boxed = client.post(f"/v1/sessions/{sid}/marks", data={"name": "box", "box": json.dumps(AROUND)})
    assert iou(stored_mask(client, boxed.json(), "box"), object_mask()) > 0.9
    assert boxed.json()["current"] == 0 and len(boxed.json()["turns"]) == 1  # marks make no turn
    forgot = client.post(f"/v1/sessions/{sid}/marks", data={"name": "box"}).json()
    assert set(forgot["turns"][0]["masks"]) == {"blob"}


def test_a_painted_mask_replaces_the_mark_and_a_bad_box_says_how(client):
    sid = start(client, png(picture()))
    painted = np.zeros(object_mask().shape, bool)
    painted[10:20, 30:50] = True
    view = client.post(
        f"/v1/sessions/{sid}/marks", data={"name": "patch"}, files={"mask": ("patch.png", png(painted))}
    ).json()
    assert np.array_equal(stored_mask(client, view, "patch"), painted)
    bad = client.post(f"/v1/sessions/{sid}/marks", data={"name": "x", "box": "[1, 2]"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("box must be JSON like")
    outside = client.post(f"/v1/sessions/{sid}/marks", data={"name": "x", "box": "[400, 300, 500, 400]"})
    assert outside.status_code == 422 and "drag a box around the object" in outside.json()["detail"]


def test_a_bad_mask_file_is_named_not_a_python_object(client):
    sid = start(client, (SOCCER / "image.jpg").read_bytes(), name="image.jpg")
    sent = client.post(
        f"/v1/sessions/{sid}/messages", data={"text": "remove the boy"}, files={"masks": ("boy.png", b"junk")}
    )
    assert sent.status_code == 422
    assert sent.json()["detail"] == (
        "cannot read mask file 'boy.png' (for 'boy'): not a readable image; use a PNG, JPEG or WebP file"
    )
    job = client.post(
        "/v1/jobs",
        data={"instruction": "remove the boy"},
        files=[("image", ("photo.jpg", (SOCCER / "image.jpg").read_bytes())), ("masks", ("boy.png", b"x"))],
    )
    assert job.status_code == 422 and "'boy.png'" in job.json()["detail"] and "BytesIO" not in job.text
    image = client.post("/v1/sessions", files={"image": ("holiday.heic", b"junk")})
    assert image.json()["detail"].startswith("cannot read image 'holiday.heic': not a readable image;")


def test_a_missing_object_is_asked_for_in_words_with_nothing_unrelated_offered(client, tmp_path):
    sid = start(client, (SOCCER / "image.jpg").read_bytes(), boy=(SOCCER / "boy.jpg").read_bytes())
    asked = client.post(
        f"/v1/sessions/{sid}/messages", data={"text": "remove the lamp"}, params={"wait": True}
    ).json()
    question = asked["question"]
    assert question["missing"] == ["lamp"] and question["choices"] == []  # the boy is no lamp
    assert "mark the lamp with the Mark tool (click it in the picture, or drag a box" in question["text"]
    assert not CODE.search(question["text"]), question["text"]
    with TestClient(create_app(planner="rules", data_dir=tmp_path)) as restarted:  # kept on disk
        assert restarted.get(f"/v1/sessions/{sid}").json()["question"]["missing"] == ["lamp"]


def test_a_hidden_object_stays_hidden_after_another_edit(client):
    corner = np.zeros((512, 512), bool)
    corner[20:60, 20:60] = True  # a patch of the background, far from the boy, to edit
    masks = {"boy": (SOCCER / "boy.jpg").read_bytes(), "patch": png(corner)}
    sid = start(client, (SOCCER / "image.jpg").read_bytes(), **masks)
    hidden = client.post(f"/v1/sessions/{sid}/hidden", data={"names": '["boy"]'}).json()
    assert hidden["hidden"] == ["boy"] and hidden["current"] == 0
    original = np.asarray(Image.open(SOCCER / "image.jpg").convert("RGB")).astype(int)
    boy = np.asarray(Image.open(SOCCER / "boy.jpg").convert("L")) > 127

    def shown() -> np.ndarray:
        response = client.get(f"/v1/sessions/{sid}/shown.png")
        assert response.status_code == 200, response.text
        return np.asarray(Image.open(io.BytesIO(response.content))).astype(int)

    assert np.abs(shown() - original).max(axis=2)[boy].mean() > 8  # the boy is out of the picture shown
    moved = client.post(
        f"/v1/sessions/{sid}/messages", data={"text": "move the patch down"}, params={"wait": True}
    ).json()
    assert moved["current"] == 1 and moved["hidden"] == ["boy"] and "boy" in moved["turns"][1]["masks"]
    edited = np.asarray(Image.open(io.BytesIO(client.get(moved["turns"][1]["image"]).content))).astype(int)
    assert np.abs(edited - original).max(axis=2)[boy].mean() < 8  # the edit kept him in the picture
    assert np.abs(shown() - edited).max(axis=2)[boy].mean() > 8  # and the view still hides him
    shown_again = client.post(f"/v1/sessions/{sid}/hidden", data={"names": "[]"}).json()
    assert shown_again["hidden"] == []
    assert np.array_equal(shown(), edited)
