"""POST /v1/decompose and /v1/compose through FastAPI's test client."""

from __future__ import annotations

import base64
import io
import zipfile

import numpy as np
import pytest
from fastapi.testclient import TestClient
from psd_tools import PSDImage

from layeredit.server import create_app
from tests.conftest import SAMPLES
from tests.test_server import decode_png

IMAGE = (SAMPLES / "soccer" / "image.jpg").read_bytes()
BOY = (SAMPLES / "soccer" / "boy.jpg").read_bytes()
FILES = [("image", ("soccer.jpg", IMAGE, "image/jpeg")), ("masks", ("boy.jpg", BOY, "image/jpeg"))]


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as test_client:
        yield test_client


def test_decompose_psd_then_compose_the_moved_layer(client) -> None:
    form = {"boxes": '{"player": [30, 240, 100, 378]}', "soft_edges": "false"}
    response = client.post("/v1/decompose", files=FILES, data=form)
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == 'attachment; filename="soccer-layers.psd"'
    document = PSDImage.open(io.BytesIO(response.content))
    assert [layer.name for layer in document] == ["original", "background", "player", "boy"]
    boy = next(layer for layer in document if layer.name == "boy")
    boy.offset = (boy.left - 50, boy.top)
    edited = io.BytesIO()
    document.save(edited)
    composed = client.post("/v1/compose", files=[("scene", ("edited.psd", edited.getvalue(), "image/psd"))])
    assert composed.status_code == 200, composed.text
    body = composed.json()
    assert body["summary"] == "move boy (-0.10, +0.00)" and (body["width"], body["height"]) == (512, 512)
    assert decode_png(base64.b64decode(body["image"])).shape == (512, 512, 3)


def test_decompose_zip_composes_unchanged_to_the_original(client) -> None:
    response = client.post("/v1/decompose", files=FILES, data={"format": "zip", "soft_edges": "false"})
    assert response.status_code == 200, response.text
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert sorted(names) == ["00_background.png", "01_boy.png", "original.png", "scene.json"]
    composed = client.post("/v1/compose", files=[("scene", ("s.zip", response.content, "application/zip"))])
    assert composed.status_code == 200 and composed.json()["plan"] is None
    unchanged = decode_png(base64.b64decode(composed.json()["image"]))
    assert np.array_equal(unchanged, decode_png(IMAGE))


@pytest.mark.parametrize(
    ("path", "files", "data", "status", "message"),
    [
        ("/v1/decompose", FILES[:1], {}, 422, "no objects to put on layers"),
        ("/v1/decompose", FILES[:1], {"auto": "true"}, 501, "needs the perception models"),
        ("/v1/compose", [("scene", ("photo.jpg", IMAGE, "image/jpeg"))], {}, 422, "not a layered file"),
        ("/v1/compose", [("scene", ("x.psd", b"not a psd", "image/psd"))], {}, 422, "cannot read"),
    ],
)
def test_bad_requests_get_a_clear_error(client, path, files, data, status, message) -> None:
    response = client.post(path, files=files, data=data)
    assert response.status_code == status and message in response.json()["detail"]
