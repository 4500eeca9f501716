"""Decompose and compose run within a work budget: refused up front over pixels x passes, stopped
past the time limit, so one request at the image limit cannot hold the worker for minutes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the server needs the server extra")
from fastapi.testclient import TestClient  # noqa: E402

from layeredit.server import create_app  # noqa: E402
from layeredit.server.budget import WorkBudget  # noqa: E402


def _png(width: int, height: int) -> bytes:
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[height // 4 : height // 2, width // 4 : width // 2] = (200, 30, 30)  # something to lift out
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


SMALL = [("image", ("small.png", _png(96, 64), "image/png"))]
SMALL_BOX = {"boxes": '{"red": [20, 12, 52, 36]}'}


@pytest.fixture(scope="module")
def default_client():
    with TestClient(create_app()) as client:
        yield client


def test_decompose_at_the_image_limit_with_soft_edges_is_refused_at_once(default_client):
    image = [("image", ("big.png", _png(4096, 4096), "image/png"))]
    form = {"boxes": '{"red": [1024, 1024, 2048, 2048]}'}  # soft edges: a closed-form matte at 4096x4096
    answer = default_client.post("/v1/decompose", files=image, data=form)
    assert answer.status_code == 413, answer.text
    detail = answer.json()["detail"]
    assert "16.8 MP x 9 passes = 151 MP of work" in detail and "--max-work-megapixels" in detail
    assert "soft_edges=false" in detail
    assert default_client.get("/healthz").json()["jobs_waiting"] == 0


def test_more_objects_are_more_passes():
    budget = WorkBudget(max_megapixels=0.1)  # 96 x 64 = 6144 pixels: 16 passes fit
    with TestClient(create_app(budget=budget)) as client:
        boxes = '{"a": [0, 0, 10, 10], "b": [20, 20, 30, 30]}'
        refused = client.post("/v1/decompose", files=SMALL, data={"boxes": boxes})
        assert refused.status_code == 413 and "x 17 passes" in refused.json()["detail"]  # 1 + 8 per matte
        hard = client.post("/v1/decompose", files=SMALL, data={"boxes": boxes, "soft_edges": "false"})
        assert hard.status_code == 200, hard.text  # no matting: one pass


def test_compose_is_refused_when_its_layers_cover_more_than_the_budget(default_client):
    scene = default_client.post("/v1/decompose", files=SMALL, data={**SMALL_BOX, "format": "zip"})
    assert scene.status_code == 200, scene.text
    upload = [("scene", ("scene.zip", scene.content, "application/zip"))]
    with TestClient(create_app(budget=WorkBudget(max_megapixels=0.01))) as client:
        refused = client.post("/v1/compose", files=upload)
        assert refused.status_code == 413, refused.text
        assert "composing 'scene.zip' is 0.0 MP x 3 passes" in refused.json()["detail"]
    assert default_client.post("/v1/compose", files=upload).status_code == 200


def test_a_job_past_the_time_budget_is_stopped_at_its_next_progress_report():
    with TestClient(create_app(budget=WorkBudget(max_seconds=1e-9))) as client:
        answer = client.post("/v1/decompose", files=SMALL, data={**SMALL_BOX, "soft_edges": "false"})
        assert answer.status_code == 413, answer.text
        assert "the decompose ran past this server's time budget" in answer.json()["detail"]
        assert client.get("/healthz").json()["jobs_waiting"] == 0


class Stopped(Exception):
    pass


def test_the_matting_reports_to_the_job_so_the_time_limit_reaches_inside_it():
    from layeredit.layered import decompose

    stages: list[str] = []

    def progress(stage: str, done: int, total: int) -> None:
        stages.append(stage)
        if stage == "matting":
            raise Stopped  # what the worker's time limit does at a report past the limit

    pixels = np.asarray(Image.open(io.BytesIO(_png(96, 64))))
    with pytest.raises(Stopped):
        decompose(pixels, boxes={"red": (20, 12, 52, 36)}, progress=progress)
    assert stages[-1] == "matting" and len(set(stages)) > 1  # the plate reported first, then the matte
