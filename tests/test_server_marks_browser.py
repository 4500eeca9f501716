"""Marking, hiding, resuming and the phone layout of the web editor, in a real headless Chromium.

Screenshots go to test-artifacts/ (marks-*.png) for a person to look at.
"""

from __future__ import annotations

import base64
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from layeredit.layerfile import read_scene
from tests.conftest import REPO
from tests.synthetic import AROUND, INSIDE, WIDTH, iou, object_mask, write_picture
from tests.test_server_browser import CHROMIUM, CHROMIUM_ARGS, serving, sync_playwright
from tests.test_server_chat_browser import shown_picture

ARTIFACTS = REPO / "test-artifacts"
TIMEOUT_MS = 30_000
CODE = re.compile(r"masks=|PATH|\{'|--mask|0x[0-9a-f]+")


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    from layeredit.server import create_app

    with serving(create_app(planner="rules", data_dir=tmp_path_factory.mktemp("data"))) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server_url):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server_url)
    yield page
    context.close()


@pytest.fixture(scope="module")
def blob_picture(tmp_path_factory) -> Path:
    return write_picture(tmp_path_factory.mktemp("pictures"))


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"marks-{name}.png"), full_page=True)


def open_picture(page, path: Path) -> None:
    page.set_input_files("#image-input", str(path))
    page.wait_for_selector("body[data-state='idle'][data-turn='0'][data-session]")
    page.wait_for_function("document.getElementById('after').complete")


def on_screen(page, x: float, y: float) -> tuple[float, float]:
    box = page.locator("#after").bounding_box()
    scale = box["width"] / WIDTH
    return box["x"] + x * scale, box["y"] + y * scale


def fetch(page, path: str):
    """GET a path of the server the page is on (the session's API)."""
    return page.request.get(page.evaluate("location.origin") + path)


def session_view(page) -> dict:
    return fetch(page, f"/v1/sessions/{page.locator('body').get_attribute('data-session')}").json()


def picture_at(page, path: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(fetch(page, path).body())).convert("RGB"))


def stored_mask(page, name: str) -> np.ndarray:
    view = session_view(page)
    return picture_at(page, view["turns"][view["current"]]["masks"][name])[..., 0] > 127


def use_tool(page, tool: str, name: str | None = None) -> None:
    if name is not None:
        page.fill("#mask-name", name)
    if page.get_attribute(f"#tool-{tool}", "aria-pressed") != "true":
        page.click(f"#tool-{tool}")


def wait_for_marks(page, names: set[str]) -> None:
    page.wait_for_function(
        "names => { const shown = [...document.querySelectorAll('#mask-list li')].map(li => li.dataset.name);"
        " return document.body.dataset.state === 'idle' && shown.length === names.length"
        " && names.every(name => shown.includes(name)); }",
        arg=sorted(names),
    )


def stroke(page, points: list[tuple[float, float]]) -> None:
    page.mouse.move(*on_screen(page, *points[0]))
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*on_screen(page, *point), steps=4)
    page.mouse.up()


def test_click_box_brush_and_eraser_mark_the_object_and_each_mark_undoes(page, blob_picture):
    truth = object_mask()
    open_picture(page, blob_picture)
    use_tool(page, "mark", "blob")
    page.mouse.click(*on_screen(page, *INSIDE))
    wait_for_marks(page, {"blob"})
    assert iou(stored_mask(page, "blob"), truth) > 0.9
    page.keyboard.press("Control+z")  # the mark is undone before any edit is
    wait_for_marks(page, set())
    page.keyboard.press("Control+Shift+z")
    wait_for_marks(page, {"blob"})

    use_tool(page, "mark", "box")
    stroke(page, [AROUND[:2], AROUND[2:]])
    wait_for_marks(page, {"blob", "box"})
    boxed = stored_mask(page, "box")
    assert iou(boxed, truth) > 0.9
    screenshot(page, "1-click-and-box")

    use_tool(page, "brush")
    page.click("#mask-list li[data-name='box']")  # the brush corrects the mask picked by its name
    stroke(page, [(20, 20), (60, 20)])
    page.wait_for_selector("body[data-state='idle'][data-marks='3']")
    brushed = stored_mask(page, "box")
    assert brushed[20, 25:55].all() and not boxed[20, 25:55].any()
    assert (brushed & ~boxed).sum() == (brushed[:60] & ~boxed[:60]).sum()  # nothing added elsewhere
    use_tool(page, "eraser")
    stroke(page, [(150, 110), (150, 140)])
    page.wait_for_selector("body[data-state='idle'][data-marks='4']")
    erased = stored_mask(page, "box")
    assert not erased[115:135, 150].any() and brushed[115:135, 150].all()
    assert iou(erased, brushed) > 0.9  # a stroke, not a new mask
    screenshot(page, "2-brush-and-eraser")
    page.click("#undo")  # the eraser's mark is taken back first
    page.wait_for_selector("body[data-state='idle'][data-marks='3']")
    assert np.array_equal(stored_mask(page, "box"), brushed)
    assert page.locator("#messages .error").count() == 0


def test_a_missing_object_gets_a_mark_it_button_that_finishes_the_request(page, blob_picture):
    open_picture(page, blob_picture)
    broken = {"name": "lamp mask.png", "mimeType": "image/png", "buffer": b"x"}
    page.set_input_files("#mask-input", files=[broken])
    page.wait_for_selector("#messages .error")
    assert page.locator("#messages .error").last.inner_text() == (
        "cannot read mask file 'lamp mask.png' (for 'lamp mask'): not a readable image; "
        "use a PNG, JPEG or WebP file"
    )
    page.fill("#instruction", "remove the lamp")
    page.click("#send")
    assert page.locator("#progress:not([hidden])").count() == 1  # the bubble shows at once
    page.wait_for_selector("#messages .mark-it[data-mark='lamp']")
    reply = page.locator("#messages li[data-kind='question']").last.inner_text()
    assert "mark the lamp with the Mark tool" in reply and not CODE.search(reply), reply
    assert page.locator("#messages .choice").count() == 0  # no unrelated object offered
    screenshot(page, "3-missing-object")
    page.click("#messages .mark-it")
    assert page.get_attribute("#tool-mark", "aria-pressed") == "true"
    page.mouse.click(*on_screen(page, *INSIDE))
    page.wait_for_selector("body[data-state='idle'][data-turn='1']")
    assert page.locator("#messages .assistant").last.inner_text().startswith("remove lamp")
    shown = picture_at(page, session_view(page)["turns"][1]["image"])
    red = (shown[..., 0] > 150) & (shown[..., 1] < 90)
    assert red.sum() < 0.02 * object_mask().sum()  # the lamp (the red blob) is gone
    screenshot(page, "4-marked-and-removed")


def test_hidden_stays_hidden_after_an_edit_and_reload_and_a_phone_tab_resume(
    page, browser, blob_picture, tmp_path
):
    open_picture(page, blob_picture)
    use_tool(page, "mark", "blob")
    page.mouse.click(*on_screen(page, *INSIDE))
    wait_for_marks(page, {"blob"})
    use_tool(page, "brush", "corner")  # a patch of background, painted, to edit
    stroke(page, [(20, 20), (60, 20), (60, 40), (20, 40)])
    wait_for_marks(page, {"blob", "corner"})
    page.click("#tool-brush")  # tool off: the picture's pointer moves objects again
    for kind in ("zip", "psd", "ora"):  # the three downloads hold the same layers
        with page.expect_download() as download:
            page.click(f"#download-{kind}")
        saved = tmp_path / f"layers.{kind}"
        download.value.save_as(saved)
        if kind == "zip":
            zipfile.ZipFile(saved).extractall(tmp_path / "zip")
            saved = tmp_path / "zip"
        assert sorted(layer.name for layer in read_scene(saved).layers) == ["background", "blob", "corner"]

    page.click("#layer-list li[data-name='blob'] button[data-action='hide']")
    page.wait_for_selector("#layer-list li.hidden-layer[data-name='blob']")
    page.fill("#instruction", "move the corner down")
    page.click("#send")
    page.wait_for_selector("body[data-state='idle'][data-turn='1']")
    page.wait_for_selector("#layer-list li.hidden-layer[data-name='blob']")
    assert session_view(page)["hidden"] == ["blob"]
    assert blob_is_shown(page) is False
    screenshot(page, "5-hidden-after-an-edit")

    page.reload()
    page.wait_for_selector("body[data-state='idle'][data-turn='1']")
    page.wait_for_selector("#layer-list li.hidden-layer[data-name='blob']")
    assert blob_is_shown(page) is False
    messages = page.locator("#messages li").all_inner_texts()
    second = browser.new_context(viewport={"width": 390, "height": 844})  # a phone, on the same address
    try:
        phone = second.new_page()
        phone.set_default_timeout(TIMEOUT_MS)
        phone.goto(page.url)
        phone.wait_for_selector("body[data-state='idle'][data-turn='1']")
        assert phone.locator("#messages li").all_inner_texts() == messages
        picture = phone.locator("#after").bounding_box()
        assert picture["width"] >= 340 and picture["x"] >= 0 and picture["x"] + picture["width"] <= 390
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        chat = phone.locator("#instruction").bounding_box()
        assert chat["y"] > picture["y"] + picture["height"]  # the chat below the picture
        screenshot(phone, "6-phone")
        phone.click("#layer-list li[data-name='blob'] button[data-action='show']")
        phone.wait_for_selector("#layer-list li[data-name='blob']:not(.hidden-layer)")
        assert blob_is_shown(phone) is True
    finally:
        second.close()


def blob_is_shown(page) -> bool:
    """Whether the picture on the page shows the red blob."""
    shown = shown_picture(page).astype(int)
    red = (shown[..., 0] > 150) & (shown[..., 1] < 90)
    return bool(red[object_mask()].mean() > 0.5)


def test_dropping_or_pasting_a_picture_opens_it(page, blob_picture):
    for event in ("drop", "paste"):
        earlier = page.locator("body").get_attribute("data-session") or ""
        page.evaluate(
            """async ([kind, base64]) => {
                const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
                const data = new DataTransfer();
                data.items.add(new File([bytes], "blob.png", { type: "image/png" }));
                const event = kind === "drop"
                    ? new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true })
                    : new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true });
                document.getElementById("viewer").dispatchEvent(event);
            }""",
            [event, base64.b64encode(blob_picture.read_bytes()).decode("ascii")],
        )
        page.wait_for_selector(f"body[data-state='idle'][data-turn='0']:not([data-session='{earlier}'])")
        assert np.array_equal(shown_picture(page), np.asarray(Image.open(blob_picture).convert("RGB")))
