"""The web editor in a real headless Chromium, against uvicorn on 127.0.0.1."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from layeredit.tools.masks import dilate, load_mask, shift
from tests.conftest import REPO, SAMPLES

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts"
IMAGE = SAMPLES / "soccer" / "image.jpg"
BOY = SAMPLES / "soccer" / "boy.jpg"
# Milliseconds for an edit or a layer export: generous, so a busy shared machine is not a failure.
SLOW = 120_000

if not CHROMIUM.exists():
    pytest.skip(
        "no /usr/bin/chromium: `make test` installs it (needs root and apt-get)", allow_module_level=True
    )
uvicorn = pytest.importorskip("uvicorn", reason="the server needs the server extra")
sync_playwright = pytest.importorskip("playwright.sync_api", reason="needs the dev extra").sync_playwright


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(app) -> Iterator[str]:
    """``app`` under uvicorn on a free port of 127.0.0.1, for as long as the block runs; its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + SLOW / 1000
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def server_url():
    from layeredit.server import create_app

    with serving(create_app()) as url:
        yield url


@contextmanager
def browsing(url: str):
    """A page of headless Chromium open at ``url``, closed after the block."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.set_default_timeout(SLOW)
            page.goto(url)
            yield page
        finally:
            browser.close()


@pytest.fixture(scope="module")
def page(server_url):
    with browsing(server_url) as page:
        yield page


def absolute_href(page, selector: str) -> str:
    return page.locator(selector).evaluate("link => link.href")


def test_chat_edit_moves_only_the_boy_and_offers_downloads(page):
    page.set_input_files("#image-input", str(IMAGE))
    page.wait_for_selector("#stage:not([hidden])")
    page.set_input_files("#mask-input", str(BOY))
    page.wait_for_selector("#mask-list li:has-text('boy')")
    page.fill("#instruction", "move the boy to the left")
    page.click("#send")
    page.wait_for_selector(
        "body[data-state='idle'] #after[data-result-id]:not([data-result-id=''])"
    )
    assert page.locator("#messages .assistant").last.inner_text().startswith("move boy")
    assert page.locator("#messages .error").count() == 0

    result_url = absolute_href(page, "#download-image")
    downloaded = page.request.get(result_url, timeout=SLOW).body()
    edited = np.asarray(Image.open(io.BytesIO(downloaded)).convert("RGB"))
    original = np.asarray(Image.open(IMAGE).convert("RGB"))
    boy = load_mask(BOY)
    changed = np.abs(edited.astype(int) - original.astype(int)).max(axis=2) > 8
    lands = shift(boy, -round(0.2 * boy.shape[1]), 0)
    near_boy = dilate(boy | lands, 12)
    assert changed.sum() > 0.5 * boy.sum()  # the boy really moved
    assert not (changed & ~near_boy).any(), f"{(changed & ~near_boy).sum()} pixels changed far from the boy"
    with page.expect_download(timeout=SLOW) as download:  # test_server_marks_browser checks all three
        page.click("#download-ora")
    assert download.value.failure() is None

    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#compare").fill("50")  # half before, half after, as a person would check it
    page.screenshot(path=str(ARTIFACTS / "web-editor.png"), full_page=True)


def test_undo_returns_to_the_uploaded_image(page):
    page.click("#undo")  # the click handler marks the page busy before it returns
    # Idle again with no result: the undo has finished rendering, not merely started.
    page.wait_for_selector("body[data-state='idle'] #after[data-result-id='']")
    assert page.is_disabled("#undo")
    assert page.locator("#mask-list li:has-text('boy')").count() == 1
