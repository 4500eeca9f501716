"""Direct manipulation in the web editor, in a real headless Chromium: drag, resize, layers panel."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from layeredit.layerfile import read_scene
from layeredit.tools.masks import dilate, load_mask, shift
from tests.test_server_browser import ARTIFACTS, BOY, IMAGE, page, server_url  # noqa: F401 - fixtures

DRAG = -100  # image pixels


def _open_with_the_boy(page) -> dict:  # noqa: F811 - the fixture
    earlier = page.locator("body").get_attribute("data-session") or ""
    page.set_input_files("#image-input", str(IMAGE))
    # A new chat session on the photo, shown and ready (not the last test's, still on the page).
    page.wait_for_selector(f"body[data-state='idle'][data-turn='0']:not([data-session='{earlier}'])")
    page.set_input_files("#mask-input", str(BOY))
    page.wait_for_selector("#layer-list li[data-name='boy']")
    page.wait_for_function("document.getElementById('after').complete")
    return page.locator("#after").bounding_box()


def _on_screen(box: dict, x: float, y: float) -> tuple[float, float]:
    scale = box["width"] / 512
    return box["x"] + x * scale, box["y"] + y * scale


def test_dragging_the_boy_moves_him_and_is_one_undoable_chat_turn(page) -> None:  # noqa: F811
    box = _open_with_the_boy(page)
    boy = load_mask(BOY)
    start = _on_screen(box, 270, 250)  # on his shirt
    assert boy[250, 270]
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + DRAG * box["width"] / 512, start[1], steps=8)
    page.mouse.up()
    page.wait_for_selector("body[data-state='idle'][data-turn='1']", timeout=30_000)
    assert page.locator("#messages .error").count() == 0
    assert page.locator("#messages .user").last.inner_text() == f"drag the boy by ({DRAG}, +0) px"
    reply = page.locator("#messages .assistant").last
    assert reply.inner_text().startswith("move boy (-0.20, +0.00)")
    move = json.loads(reply.locator("pre").text_content())["operations"][0]
    assert abs(move["dx"] * 512 - DRAG) <= 2 and move["dy"] == 0

    edited = np.asarray(Image.open(io.BytesIO(page.request.get(
        page.locator("#download-image").evaluate("link => link.href")).body())).convert("RGB"))  # fmt: skip
    original = np.asarray(Image.open(IMAGE).convert("RGB"))
    core = ~dilate(~boy, 6)
    errors = {
        s: np.abs(edited[shift(core, s, 0)].astype(int) - original[core]).mean() for s in range(-106, -93)
    }
    assert abs(min(errors, key=errors.get) - DRAG) <= 2 and min(errors.values()) < 1.0
    changed = np.abs(edited.astype(int) - original.astype(int)).max(axis=2) > 8
    assert not (changed & ~dilate(boy | shift(boy, DRAG, 0), 12)).any()
    assert page.locator("#layer-list li[data-name='boy']").count() == 1  # the mask followed him

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-editor-drag.png"), full_page=True)
    page.click("#undo")  # the drag was one turn of the chat session: Undo takes it back
    page.wait_for_selector("body[data-state='idle'][data-turn='0']")
    assert page.locator("#messages .user").last.inner_text() == "undo"
    assert page.locator("#messages .assistant").last.inner_text().startswith("undone: move boy")


def test_psd_download_is_the_decomposition(page, tmp_path: Path) -> None:  # noqa: F811
    _open_with_the_boy(page)
    with page.expect_download() as download:
        page.click("#download-psd")
    saved = tmp_path / "layers.psd"
    download.value.save_as(saved)
    scene = read_scene(saved)
    assert [layer.name for layer in scene.layers] == ["background", "boy"]
    assert np.array_equal(scene.original, np.asarray(Image.open(IMAGE).convert("RGB")))


def test_corner_handle_resizes_and_panel_buttons_reorder_and_remove(page) -> None:  # noqa: F811
    box = _open_with_the_boy(page)
    page.click("#layer-list li[data-name='boy'] button[data-action='front']")
    page.wait_for_selector("body[data-state='idle'][data-turn='1']", timeout=30_000)
    assert page.locator("#messages .user").last.inner_text() == "bring boy to the front"
    assert page.locator("#messages .assistant").last.inner_text().startswith("reorder boy front")
    page.click("#undo")
    page.wait_for_selector("body[data-state='idle'][data-turn='0']")
    page.click("#layer-list li[data-name='boy'] span")
    handle = page.locator("#layer-frame .se").bounding_box()
    start = (handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.move(*start)
    page.mouse.down()
    # The frame's centre is the boy's box centre; halving the diagonal halves him.
    centre = _on_screen(box, (138 + 415) / 2, (29 + 476) / 2)
    page.mouse.move((start[0] + centre[0]) / 2, (start[1] + centre[1]) / 2, steps=6)
    page.mouse.up()
    page.wait_for_selector("body[data-state='idle'][data-turn='1']", timeout=30_000)
    assert page.locator("#messages .user").last.inner_text().startswith("resize boy")
    assert page.locator("#messages .assistant").last.inner_text().startswith("resize boy x0.5")

    page.click("#layer-list li[data-name='boy'] button[data-action='hide']")  # a view setting: no turn
    page.wait_for_selector("#layer-list li.hidden-layer[data-name='boy']", timeout=30_000)
    assert page.locator("body").get_attribute("data-turn") == "1"
    page.click("#layer-list li[data-name='boy'] button[data-action='show']")
    page.wait_for_selector("#layer-list li[data-name='boy'] button[data-action='remove']")
    assert page.locator("body").get_attribute("data-turn") == "1"

    page.click("#layer-list li[data-name='boy'] button[data-action='remove']")
    page.wait_for_selector("body[data-state='idle'][data-turn='2']", timeout=30_000)
    assert page.locator("#messages .assistant").last.inner_text().startswith("remove boy")
    # His mask went with him: the panel empties once the new picture is loaded.
    page.wait_for_function("document.querySelectorAll('#layer-list li').length === 0", timeout=10_000)
    assert page.locator("#messages .error").count() == 0
