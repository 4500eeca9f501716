"""The resolution strategy through the REST API: the form field reaches the edit, stats say so."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the server needs the server extra")
from fastapi.testclient import TestClient  # noqa: E402 - only after the extra is known to be there

from layeredit.api import edit  # noqa: E402
from layeredit.engine.resolution import ResolutionParams  # noqa: E402
from layeredit.server import create_app  # noqa: E402
from tests.conftest import SAMPLES  # noqa: E402

FILES = [
    ("image", ("image.jpg", (SAMPLES / "soccer" / "image.jpg").read_bytes(), "image/jpeg")),
    ("masks", ("boy.jpg", (SAMPLES / "soccer" / "boy.jpg").read_bytes(), "image/jpeg")),
]


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as test_client:
        yield test_client


def test_hd_strategy_field_reaches_the_edit(client, soccer):
    image, boy = soccer
    crop = {"instruction": "remove the boy", "hd_strategy": "crop"}
    response = client.post("/v1/edit", files=FILES, data=crop)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["stats"]["hd_strategy"] == "crop"
    with Image.open(io.BytesIO(base64.b64decode(body["image"]))) as png:
        edited = np.asarray(png)
    expected = edit(image, "remove the boy", masks={"boy": boy}, hd_strategy=ResolutionParams("crop"))
    np.testing.assert_array_equal(edited, expected.image)
    default = client.post("/v1/edit", files=FILES, data={"instruction": "remove the boy"}).json()
    assert default["stats"]["hd_strategy"] == "original"  # a 512 px photo is edited at its size


def test_unknown_hd_strategy_is_a_422(client):
    tiles = {"instruction": "remove the boy", "hd_strategy": "tiles"}
    response = client.post("/v1/edit", files=FILES, data=tiles)
    assert response.status_code == 422 and "hd_strategy" in response.json()["detail"]


def test_every_resolution_field_reaches_the_edit(client, soccer):
    image, boy = soccer
    # auto with a trigger below the photo's 512 px side no longer edits it at its original size.
    fields = {"instruction": "remove the boy", "hd_strategy": "auto", "hd_trigger": 256, "hd_crop_margin": 8}
    response = client.post("/v1/edit", files=FILES, data=fields)
    assert response.status_code == 200, response.text
    body = response.json()
    resolution = ResolutionParams("auto", hd_crop_margin=8.0, hd_trigger=256)
    expected = edit(image, "remove the boy", masks={"boy": boy}, hd_strategy=resolution)
    assert body["stats"]["hd_strategy"] == expected.stats["hd_strategy"] != "original"
    with Image.open(io.BytesIO(base64.b64decode(body["image"]))) as png:
        np.testing.assert_array_equal(np.asarray(png), expected.image)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"hd_crop_margin": "-1"}, "hd crop margin must be a finite number >= 0, got -1.0"),
        ({"hd_crop_margin": "nan"}, "hd crop margin must be a finite number >= 0, got nan"),
        ({"hd_trigger": "0"}, "hd trigger must be a positive number of pixels, got 0"),
    ],
)
def test_a_resolution_option_out_of_range_is_a_422_with_the_reason(client, fields, message):
    for route in ("/v1/edit", "/v1/jobs"):
        response = client.post(route, files=FILES, data={"instruction": "remove the boy", **fields})
        assert response.status_code == 422 and response.json()["detail"] == message
    session = client.post("/v1/sessions", files=FILES).json()["id"]
    response = client.post(f"/v1/sessions/{session}/messages", data={"text": "remove the boy", **fields})
    assert response.status_code == 422 and response.json()["detail"] == message
