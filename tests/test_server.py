"""The REST API through FastAPI's test client: edits, plans, segments, jobs, limits and errors."""

from __future__ import annotations

import base64
import io
import threading
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the server needs the server extra")
from fastapi.testclient import TestClient  # noqa: E402 - only after the extra is known to be there

from layeredit.api import edit  # noqa: E402
from layeredit.engine.pixel import PixelEngine  # noqa: E402
from layeredit.server import Limits, create_app  # noqa: E402
from tests.conftest import SAMPLES  # noqa: E402

IMAGE = (SAMPLES / "soccer" / "image.jpg").read_bytes()
BOY = (SAMPLES / "soccer" / "boy.jpg").read_bytes()
MOVE_LEFT = "move the boy to the left"


def upload(
    instruction: str | None = MOVE_LEFT, image: bytes | None = IMAGE, masks: dict[str, bytes] | None = None
):
    files = [] if image is None else [("image", ("image.jpg", image, "image/jpeg"))]
    for name, data in ({"boy": BOY} if masks is None else masks).items():
        files.append(("masks", (f"{name}.jpg", data, "image/jpeg")))
    return {"files": files, "data": {} if instruction is None else {"instruction": instruction}}


def decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image)


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def client():
    with TestClient(
        create_app(limits=Limits(max_request_bytes=3 * 2**20, max_image_side=1024))
    ) as test_client:
        yield test_client


def test_health_and_openapi_schema(client):
    assert client.get("/healthz").json() == {
        "status": "ok",
        "engine": "pixel",
        "point_segmenter": "grabcut",
        "text_segmentation": False,
        "jobs_waiting": 0,
    }
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/edit", "/v1/plan", "/v1/segment", "/v1/jobs", "/v1/jobs/{job_id}", "/healthz"} <= set(paths)
    assert "multipart/form-data" in paths["/v1/edit"]["post"]["requestBody"]["content"]


def test_plan_turns_words_into_the_plan_json(client):
    response = client.post("/v1/plan", json={"instruction": MOVE_LEFT, "width": 512, "height": 512})
    assert response.status_code == 200
    assert response.json()["plan"]["operations"][0]["op"] == "move"
    assert response.json()["summary"].startswith("move boy")


def test_edit_returns_the_same_image_as_the_python_api_and_masks_that_follow_the_object(client, soccer):
    image, boy = soccer
    response = client.post("/v1/edit", **upload())
    assert response.status_code == 200, response.text
    body = response.json()
    edited = decode_png(base64.b64decode(body["image"]))
    np.testing.assert_array_equal(edited, edit(image, MOVE_LEFT, masks={"boy": boy}).image)
    assert body["layers"] == ["background", "boy"] and body["summary"] == "move boy (-0.20, +0.00)"
    moved = decode_png(base64.b64decode(body["masks"]["boy"].split(",", 1)[1])) > 127
    shift = np.nonzero(boy)[1].mean() - np.nonzero(moved)[1].mean()
    assert shift == pytest.approx(0.2 * 512, abs=3)  # the mask went with the boy
    assert client.get(body["downloads"]["image"]).content == base64.b64decode(body["image"])


def test_a_job_reports_progress_and_its_layers_download_as_zip_psd_and_ora(client):
    started = client.post("/v1/jobs", **upload("make the boy bigger"))
    assert started.status_code == 202 and started.json()["status"] in ("queued", "running", "done")
    deadline = time.monotonic() + 30
    while (job := client.get(f"/v1/jobs/{started.json()['id']}").json())["status"] != "done":
        assert job["status"] in ("queued", "running") and time.monotonic() < deadline, job
        time.sleep(0.05)
    assert job["stage"] and job["done"] == job["total"] > 0
    downloads = job["result"]["downloads"]
    with zipfile.ZipFile(io.BytesIO(client.get(downloads["layers_zip"]).content)) as archive:
        assert sorted(archive.namelist()) == [
            "00_background.png", "01_boy.png", "layers.ora", "layers.psd", "plan.json",
        ]  # fmt: skip
    psd = client.get(downloads["layers_psd"])
    assert psd.status_code == 200 and psd.content[:4] == b"8BPS"
    ora = client.get(downloads["layers_ora"])
    assert ora.status_code == 200 and ora.content[:2] == b"PK"


def test_segment_by_point_finds_the_object_under_the_click(client, soccer):
    _, boy = soccer
    response = client.post(
        "/v1/segment",
        files=[("image", ("i.jpg", IMAGE, "image/jpeg"))],
        data={"x": 267, "y": 237, "name": "boy"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    mask = decode_png(base64.b64decode(body["mask"].split(",", 1)[1])) > 127
    assert body["method"] == "grabcut" and body["name"] == "boy" and mask[237, 267]
    assert (mask & boy).sum() / (mask | boy).sum() > 0.4


def test_segment_by_phrase_uses_the_perception_models_when_given():
    class BoxFinder:
        def resolve(self, image, target):
            mask = np.zeros(image.shape[:2], bool)
            mask[10:20, 30:60] = True
            return [mask]

    with TestClient(create_app(text_resolver=BoxFinder())) as client:
        response = client.post(
            "/v1/segment", files=[("image", ("i.jpg", IMAGE, "image/jpeg"))], data={"phrase": "boy"}
        )
    assert response.status_code == 200, response.text
    assert response.json()["box"] == [30, 10, 60, 20] and response.json()["area"] == 300


def oversized_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (1500, 300), "gray").save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "request_kwargs, status, message",
    [
        (upload(image=None), 400, "no image"),
        (upload(instruction=None), 400, "no instruction"),
        (upload(image=b"not an image at all"), 422, "not a readable image"),
        (upload(image=IMAGE[: len(IMAGE) // 2]), 422, "corrupt or truncated"),
        (upload(image=oversized_jpeg(), masks={}), 413, "at most 1024 px a side"),
        (upload(image=b"\xff" * (3 * 2**20 + 1)), 413, "larger than"),
        (upload(masks={"cat": BOY}), 422, "mask name 'cat' matches no object"),
        (
            upload(masks={"boy": png(np.zeros((8, 8), np.uint8))}),
            422,
            "mask file 'boy.jpg' (for 'boy') is 8x8 but the image is 512x512",
        ),
        (upload("blorp the frobnicator"), 422, "could not understand"),
        (upload("move the dog to the left"), 422, "matches no object"),
        (upload("move the dog to the left", masks={}), 422,
         "no mask for 'dog': upload its mask as a 'masks' file named dog.png or send boxes="),
        (upload('{"operations": [{"op": "explode"}]}'), 422, "unknown op 'explode'"),
    ],
)
def test_edit_errors_are_clear_4xx_json(client, request_kwargs, status, message):
    response = client.post("/v1/edit", **request_kwargs)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]


def test_other_4xx_paths(client):
    assert client.post("/v1/plan", json={"instruction": "blorp"}).status_code == 422
    assert "instruction" in client.post("/v1/plan", json={}).json()["detail"]
    assert client.get("/v1/jobs/nope").status_code == 404
    assert client.get("/v1/results/nope/layers.psd").status_code == 404
    no_target = client.post("/v1/segment", files=[("image", ("i.jpg", IMAGE, "image/jpeg"))])
    assert no_target.status_code == 400 and "phrase" in no_target.json()["detail"]
    by_phrase = client.post(
        "/v1/segment", files=[("image", ("i.jpg", IMAGE, "image/jpeg"))], data={"phrase": "boy"}
    )
    assert by_phrase.status_code == 501 and "GroundingDINO" in by_phrase.json()["detail"]
    outside = client.post(
        "/v1/segment", files=[("image", ("i.jpg", IMAGE, "image/jpeg"))], data={"x": 900, "y": 5}
    )
    assert outside.status_code == 422 and "outside" in outside.json()["detail"]


class OneAtATime:
    """The pixel engine, slowed down, recording whether two runs ever overlap."""

    name = "pixel"

    def __init__(self):
        self.inner = PixelEngine()
        self.running = 0
        self.most_at_once = 0
        self.lock = threading.Lock()

    def run(self, stack, plan, progress=None):
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            time.sleep(0.2)
            return self.inner.run(stack, plan, progress)
        finally:
            with self.lock:
                self.running -= 1


def test_concurrent_edits_queue_and_give_the_same_results_as_sequential_ones():
    engine = OneAtATime()
    instructions = [MOVE_LEFT, "make the boy bigger", "flip the boy", "remove the boy"]
    with TestClient(create_app(engine=engine)) as client:
        sequential = [client.post("/v1/edit", **upload(text)).json()["image"] for text in instructions]
        concurrent: dict[str, str] = {}

        def send(text: str) -> None:
            concurrent[text] = client.post("/v1/edit", **upload(text)).json()["image"]

        threads = [threading.Thread(target=send, args=(text,)) for text in instructions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert [concurrent[text] for text in instructions] == sequential
    assert len(set(sequential)) == len(instructions)
    assert engine.most_at_once == 1


def test_a_streamed_body_without_length_is_cut_off_at_the_limit(client):
    chunks = (b"x" * 2**20 for _ in range(5))  # 5 MiB against a 3 MiB limit, sent chunked
    response = client.post(
        "/v1/edit", content=chunks, headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert response.status_code == 413 and "larger than" in response.json()["detail"]
