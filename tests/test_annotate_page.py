"""The annotation page in a real browser (Playwright driving Debian's headless Chromium): add a span by
selecting text, change its type by key, accept, reload and find the answer stored; undo; remove a
span by key; the screenshot in docs/annotate.png comes from here (SEQLAB_SCREENSHOT=path)."""
from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.test_annotate import GOLD, running, source

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[test]')")


@pytest.fixture
def page(tmp_path: Path):
    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium (CI installs it: apt-get install chromium)")
    db = tmp_path / "a.sqlite"
    with running(db, source(tmp_path / "src.txt"), "--retrain-every", "1000") as client:
        with playwright.sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            tab = browser.new_page(viewport={"width": 1100, "height": 520})
            tab.goto(f"{client.base}/?annotator=alice")
            tab.wait_for_selector("body[data-ready=yes]")
            yield tab, db, client
            browser.close()


def stored(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as raw:
        return raw.execute("SELECT sentence, annotator, action, spans FROM answers ORDER BY id").fetchall()


def select_tokens(tab, first: int, last: int) -> None:
    """Drag the mouse from the start of token ``first`` to the end of token ``last``."""
    a = tab.locator(f"#sentence .tok[data-i='{first}']").bounding_box()
    b = tab.locator(f"#sentence .tok[data-i='{last}']").bounding_box()
    tab.mouse.move(a["x"] + 2, a["y"] + a["height"] / 2)
    tab.mouse.down()
    tab.mouse.move(b["x"] + b["width"] - 2, b["y"] + b["height"] / 2, steps=5)
    tab.mouse.up()


def test_select_type_accept_reload_undo_in_a_real_browser(page):
    tab, db, _ = page
    sentence = int(tab.locator("#sentence").get_attribute("data-id"))
    tokens = tab.locator("#sentence .tok").all_inner_texts()
    assert tuple(tokens) in GOLD
    select_tokens(tab, 0, 1)  # two words by mouse: a span of the first type
    mark = tab.locator("#sentence mark.entity")
    assert mark.count() == 1 and mark.get_attribute("data-start") == "0" and mark.get_attribute("data-end") == "2"
    assert mark.get_attribute("data-label") == "FRUIT"
    tab.keyboard.press("2")  # the chosen span becomes the second type
    assert tab.locator("#sentence mark.entity").get_attribute("data-label") == "ORG"
    shot = os.environ.get("SEQLAB_SCREENSHOT")
    if shot:
        tab.screenshot(path=shot)
    tab.keyboard.press("Enter")
    tab.wait_for_function(f"document.querySelector('#sentence').dataset.id !== '{sentence}'")
    assert stored(db) == [(sentence, "alice", "accept", '[[0, 2, "ORG"]]')]
    second = int(tab.locator("#sentence").get_attribute("data-id"))
    tab.reload()  # the page resumes where it was: the same unanswered sentence
    tab.wait_for_selector("body[data-ready=yes]")
    assert int(tab.locator("#sentence").get_attribute("data-id")) == second
    tab.keyboard.press("u")  # undo the accept: the first sentence comes back with its spans
    tab.wait_for_function(f"document.querySelector('#sentence').dataset.id === '{sentence}'")
    assert tab.locator("#sentence mark.entity").get_attribute("data-label") == "ORG"
    assert [row[2] for row in stored(db)] == ["accept", "undo"]
    tab.keyboard.press("ArrowRight")  # the cursor onto the span's second word; Backspace removes the span
    tab.keyboard.press("Backspace")
    assert tab.locator("#sentence mark.entity").count() == 0
    tab.keyboard.press("ArrowLeft")
    tab.keyboard.press("Shift+ArrowRight")  # a span by keyboard: words 0-1, type 1
    tab.keyboard.press("1")
    assert tab.locator("#sentence mark.entity").get_attribute("data-label") == "FRUIT"
    tab.keyboard.press("Enter")
    tab.wait_for_function(f"document.querySelector('#sentence').dataset.id !== '{sentence}'")
    assert stored(db)[-1] == (sentence, "alice", "accept", '[[0, 2, "FRUIT"]]')
    tab.keyboard.press("s")  # skip
    tab.wait_for_function("document.querySelector('#progress').textContent.includes('answered 2')")
    assert stored(db)[-1][2] == "skip"
