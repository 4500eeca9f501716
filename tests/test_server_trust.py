"""The server's trust boundaries in process: token, Host names, CORS, file paths, a full queue."""

from __future__ import annotations

import json
import threading

import pytest

pytest.importorskip("fastapi", reason="the server needs the server extra")
from fastapi.testclient import TestClient  # noqa: E402

from layeredit.engine.pixel import PixelEngine  # noqa: E402
from layeredit.server import create_app  # noqa: E402
from layeredit.server.access import AccessPolicy  # noqa: E402
from layeredit.server.service import ServerStorage  # noqa: E402
from tests.conftest import SAMPLES  # noqa: E402

SOCCER = SAMPLES / "soccer" / "image.jpg"
IMAGE = SOCCER.read_bytes()
BOY = (SAMPLES / "soccer" / "boy.jpg").read_bytes()
PLAN = {"instruction": "move the boy to the left"}


def files(**extra: list) -> list:
    found = [("image", ("image.jpg", IMAGE, "image/jpeg")), ("masks", ("boy.jpg", BOY, "image/jpeg"))]
    for field, items in extra.items():
        found += [(field, item) for item in items]
    return found


@pytest.fixture(scope="module")
def guarded():
    policy = AccessPolicy.build("s3cret", hosts=["editor.example"], cors=["https://app.example"])
    with TestClient(create_app(access=policy), base_url="http://localhost") as client:
        yield client


def test_the_token_guards_every_endpoint_but_health(guarded):
    assert guarded.get("/healthz").status_code == 200
    endpoints = [("post", "/v1/plan"), ("get", "/v1/jobs/abc"), ("get", "/v1/results/abc/image.png"),
                 ("post", "/v1/edit"), ("post", "/v1/segment"), ("get", "/openapi.json")]  # fmt: skip
    for method, path in endpoints:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            answer = getattr(guarded, method)(path, headers=headers)
            assert answer.status_code == 401 and "token" in answer.json()["detail"], (path, headers)
    ok = guarded.post("/v1/plan", json=PLAN, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.json()["summary"].startswith("move boy")


def test_the_editor_page_keeps_a_given_token_in_a_same_site_cookie():
    with TestClient(create_app(access=AccessPolicy.build("s3cret")), base_url="http://localhost") as client:
        page = client.get("/?token=s3cret")
        assert page.status_code == 200 and "SameSite=Strict" in page.headers["set-cookie"]
        assert client.post("/v1/plan", json=PLAN).status_code == 200  # the cookie is sent back
        client.cookies.clear()
        assert client.post("/v1/plan", json=PLAN).status_code == 401


@pytest.mark.parametrize("host", ["evil.example", "evil.example:7860", "127.0.0.1.evil.example", ""])
def test_unknown_host_names_are_refused(guarded, host):
    answer = guarded.get("/healthz", headers={"host": host})
    assert answer.status_code == 400 and "--allow-host" in answer.json()["detail"]


@pytest.mark.parametrize("host", ["localhost:7860", "127.0.0.1", "[::1]:80", "editor.example"])
def test_local_and_allowed_host_names_are_answered(guarded, host):
    assert guarded.get("/healthz", headers={"host": host}).status_code == 200


def test_cors_only_for_the_origin_given():
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    with TestClient(create_app(), base_url="http://localhost") as plain:
        answer = plain.options("/v1/plan", headers=preflight)
        assert "access-control-allow-origin" not in answer.headers
    policy = AccessPolicy.build("s3cret", cors=["https://app.example"])
    with TestClient(create_app(access=policy), base_url="http://localhost") as client:
        answer = client.options("/v1/plan", headers=preflight)
        assert answer.headers["access-control-allow-origin"] == "https://app.example"
        other = client.options("/v1/plan", headers={**preflight, "Origin": "https://evil.example"})
        assert other.headers.get("access-control-allow-origin") != "https://evil.example"


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(), base_url="http://localhost") as test_client:
        yield test_client


def _insert_plan(source: str) -> str:
    operation = {"op": "insert", "source": source, "target": {"phrase": "boy"}, "dx": 0.2}
    return json.dumps({"operations": [operation]})


@pytest.mark.parametrize("source", [str(SOCCER), "/nonexistent/secret.png", "../../etc/passwd", "image.jpg"])
def test_an_insert_never_opens_a_server_path(client, source):
    answer = client.post("/v1/edit", files=files(), data={"instruction": _insert_plan(source)})
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert "opens no file by name" in detail and "512x512" not in detail and "not found" not in detail


def test_an_insert_takes_its_picture_from_an_upload(client):
    # The plan's path only names the upload; no file on the server is read.
    upload = [("sources", ("image.jpg", IMAGE, "image/jpeg"))]
    for source in ("/srv/photos/image.jpg", str(SOCCER)):
        answer = client.post("/v1/edit", files=files() + upload, data={"instruction": _insert_plan(source)})
        assert answer.status_code == 200, answer.text
        assert answer.json()["summary"].startswith("insert boy")


class GatedEngine(PixelEngine):
    """The pixel engine, held at the start of each run until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def run(self, stack, plan, progress=None):
        self.gate.wait(timeout=30)
        return super().run(stack, plan, progress)


def test_a_full_queue_answers_429_with_retry_after(tmp_path):
    engine = GatedEngine()
    app = create_app(engine=engine, storage=ServerStorage(tmp_path, max_waiting=2))
    with TestClient(app, base_url="http://localhost") as client:
        accepted = [client.post("/v1/jobs", files=files(), data=PLAN) for _ in range(2)]
        assert [a.status_code for a in accepted] == [202, 202]
        refused = client.post("/v1/jobs", files=files(), data=PLAN)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert "queue is full" in refused.json()["detail"]
        engine.gate.set()
        for job in accepted:
            assert client.get(f"/v1/jobs/{job.json()['id']}").status_code == 200
        assert len(list((tmp_path / "jobs").iterdir())) == 2  # the refused job left nothing behind


CROSS_SITE = [
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "https://evil.example"},  # a browser without Fetch Metadata
    {"Sec-Fetch-Site": "cross-site"},
    {"Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-site"},  # another local port
    {"Origin": "null"},  # a sandboxed frame or a file:// page
    {"Origin": "https://evil.example", "X-Layeredit": "1"},  # the header alone does not vouch for a site
]
SCENE_ZIP = ("scene", ("scene.zip", b"PK\x05\x06" + b"\0" * 18, "application/zip"))


def _form_posts(client: TestClient, headers: dict) -> list:
    """A multipart form POST to each endpoint a cross-site page could use to queue work or fill the disk."""
    return [
        client.post("/v1/edit", files=files(), data={"instruction": "move the boy left"}, headers=headers),
        client.post("/v1/sessions", files=files(), headers=headers),
        client.post("/v1/compose", files=[SCENE_ZIP], headers=headers),
    ]


@pytest.mark.parametrize("headers", CROSS_SITE, ids=range(len(CROSS_SITE)))
def test_cross_site_form_posts_are_refused_without_a_token(client, headers):
    before = client.get("/healthz").json()["jobs_waiting"]
    for answer in _form_posts(client, headers):
        assert answer.status_code == 403, answer.text
        assert "refused" in answer.json()["detail"]
    assert client.get("/healthz").json()["jobs_waiting"] == before
    assert not list(client.app.state.sessions.folder.glob("*"))  # no session was created


def test_a_same_origin_browser_post_needs_the_editor_header(client):
    page = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    refused = client.post("/v1/plan", json=PLAN, headers=page)
    assert refused.status_code == 403 and "x-layeredit" in refused.json()["detail"]
    assert client.post("/v1/plan", json=PLAN, headers={**page, "X-Layeredit": "1"}).status_code == 200
    assert client.get("/v1/jobs/none", headers=page).status_code == 404  # reading needs no header
    assert client.post("/v1/plan", json=PLAN).status_code == 200  # not a browser: nothing to forge


def test_an_allowed_cors_origin_may_post_with_its_token(guarded):
    allowed = {"Origin": "https://app.example", "Sec-Fetch-Site": "cross-site"}
    ok = guarded.post("/v1/plan", json=PLAN, headers={**allowed, "Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    refused = guarded.post("/v1/plan", json=PLAN, headers={**allowed, "Origin": "https://evil.example"})
    assert refused.status_code == 403
