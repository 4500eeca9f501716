"""The web editor's chat session in a real headless Chromium: turns, reload, undo, a question."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from layeredit.agent.chat import ChatSession
from layeredit.agent.rules import RulePlanner
from layeredit.engine.pixel import PixelEngine
from tests.conftest import REPO, SAMPLES
from tests.test_server_browser import browsing, serving

ARTIFACTS = REPO / "test-artifacts"
SOCCER = SAMPLES / "soccer"
PIKACHU = SAMPLES / "pikachu"
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    from layeredit.server import create_app

    with serving(create_app(planner="rules", data_dir=tmp_path_factory.mktemp("data"))) as url:
        yield url


@pytest.fixture
def page(server_url):
    with browsing(server_url) as page:
        page.set_default_timeout(TIMEOUT_MS)
        yield page


def expected_turns(tmp_path, image, masks: dict[str, str], messages: list[str]) -> list[np.ndarray]:
    """The pictures `layeredit chat` makes from the same messages (the same session code)."""
    chat = ChatSession.start(image, tmp_path / "expected", RulePlanner(), PixelEngine(), masks)
    for message in messages:
        chat.respond(message)
    return [turn.image for turn in chat.turns]


def shown_picture(page) -> np.ndarray:
    data = page.evaluate(
        """async () => {
            const blob = await (await fetch(document.getElementById("after").src)).blob();
            return await new Promise((resolve) => {
                const reader = new FileReader();
                reader.onload = () => resolve(reader.result.split(",")[1]);
                reader.readAsDataURL(blob);
            });
        }"""
    )
    with Image.open(io.BytesIO(base64.b64decode(data))) as image:
        return np.asarray(image.convert("RGB"))


def wait_for_turn(page, turn: int) -> None:
    page.wait_for_selector(f"body[data-turn='{turn}'][data-state='idle']")


def said(page) -> list[tuple[str, str]]:
    items = page.locator("#messages li")
    return [(items.nth(i).get_attribute("class"), items.nth(i).inner_text()) for i in range(items.count())]


def send(page, text: str) -> None:
    page.fill("#instruction", text)
    page.click("#send")


def add_mask(page, name: str, path) -> None:
    page.fill("#mask-name", name)
    page.set_input_files("#mask-input", str(path))
    page.wait_for_selector(f"#mask-list li:has-text('{name}')")


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"chat-{name}.png"), full_page=True)


def test_turns_survive_a_reload_and_undo_shows_the_picture_before(page, tmp_path):
    turns = ["move him to the left", "a bit more"]
    expected = expected_turns(tmp_path, SOCCER / "image.jpg", {"boy": str(SOCCER / "boy.jpg")}, turns)
    page.set_input_files("#image-input", str(SOCCER / "image.jpg"))
    wait_for_turn(page, 0)
    add_mask(page, "boy", SOCCER / "boy.jpg")

    send(page, turns[0])
    wait_for_turn(page, 1)
    assert np.array_equal(shown_picture(page), expected[1])
    history = said(page)
    assert history[-2] == ("user", turns[0])
    assert history[-1][0] == "assistant" and history[-1][1].startswith("move boy (-0.20, +0.00)")
    assert "planned by rules" in history[-1][1]
    assert page.locator("#mask-list li:has-text('boy')").count() == 1
    screenshot(page, "1-moved")

    send(page, turns[1])
    wait_for_turn(page, 2)
    assert np.array_equal(shown_picture(page), expected[2])
    before_reload = said(page)
    assert before_reload[-1][1].startswith("move boy (-0.10, +0.00)")
    screenshot(page, "2-a-bit-more")

    page.reload()
    wait_for_turn(page, 2)
    assert said(page) == before_reload
    assert np.array_equal(shown_picture(page), expected[2])
    screenshot(page, "3-reloaded")

    page.click("#undo")
    wait_for_turn(page, 1)
    assert np.array_equal(shown_picture(page), expected[1])
    assert said(page)[-2:] == [("user", "undo"), ("assistant", "undone: a bit more [turn 1]")]
    assert page.is_enabled("#redo") and page.is_enabled("#undo")
    screenshot(page, "4-undone")


def test_an_ambiguous_request_asks_and_a_candidate_button_finishes_the_edit(page, tmp_path):
    masks = {"apple": str(PIKACHU / "apple.jpg"), "sunglasses": str(PIKACHU / "sunglasses.jpg")}
    expected = expected_turns(tmp_path, PIKACHU / "image.jpg", masks, ["remove it", "1"])
    page.set_input_files("#image-input", str(PIKACHU / "image.jpg"))
    wait_for_turn(page, 0)
    for name, path in masks.items():
        add_mask(page, name, path)

    send(page, "remove it")
    page.wait_for_selector("#messages li[data-kind='question'] .choice:nth-child(2) img[src]")
    wait_for_turn(page, 0)
    choices = page.locator("#messages .choice")
    assert [choices.nth(i).inner_text() for i in range(choices.count())] == ["apple", "sunglasses"]
    assert 'Which object do you mean in "remove it"?' in said(page)[-1][1]
    screenshot(page, "5-question")

    choices.nth(0).click()
    wait_for_turn(page, 1)
    assert np.array_equal(shown_picture(page), expected[1])
    assert said(page)[-2][1] == "apple" and said(page)[-1][1].startswith("remove apple")
    assert page.locator("#messages .choice").count() == 0  # the question is answered
    screenshot(page, "6-answered")
