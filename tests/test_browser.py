"""The chat window in a real headless Chromium (Debian's; `playwright install` cannot download here): streamed answer,
citation click to the highlighted quote, feedback, upload, a hostile document that must not execute, a refusal, the
time to evidence, and a second user's place in the queue. Saves docs/answer.png and docs/refusal.png."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from app_server import serve_app
from scripted_llm import GatedLLM

CHROMIUM = Path("/usr/bin/chromium")
DOCS = Path(__file__).resolve().parents[1] / "docs"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
FINAL = "#chat .answer-foot, #chat .refusal, #chat .notice.error"  # a finished assistant message
HOSTILE = ("Zebra project notes.\n\nThe zebra project has the codename Marmalade.\n"
           "<script>alert(1)</script> <img src=x onerror=alert(2)> **not bold** [a link](http://example.com)\n")

pytestmark = [pytest.mark.browser, pytest.mark.llm,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium: apt-get install -y chromium")]


@pytest.fixture(scope="module")
def chromium():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.goto(url)
    page.wait_for_selector("#status :text('Ready')", timeout=60_000)
    return page


@pytest.fixture(scope="module")
def window(tmp_path_factory, fast_llm, embedder, chromium):
    with serve_app(tmp_path_factory.mktemp("browser"), fast_llm, embedder) as (url, pipeline):
        page = open_page(chromium, url)
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        yield SimpleNamespace(page=page, dialogs=dialogs, pipeline=pipeline)
        page.close()


def ask(page, question: str, expect_streaming: bool = False) -> None:
    done = page.locator(FINAL).count()
    page.fill("#question textarea", question)
    page.click("#send")
    if expect_streaming:
        page.wait_for_selector("#chat .streaming", timeout=120_000)
    page.wait_for_function(f"document.querySelectorAll({json.dumps(FINAL)}).length > {done}", timeout=120_000)


def test_cited_answer_streams_and_its_citation_opens_the_quote(window):
    page = window.page
    ask(page, "In which city did Wang Yi and Jake Sullivan hold talks in May 2023?", expect_streaming=True)
    answer = page.locator("#chat .answer-text").last
    assert "Vienna" in answer.inner_text()
    answer.locator("a.cite").first.click()
    quote = page.locator("#evidence .doc-view:not([hidden]) mark.active")
    quote.wait_for(state="visible")
    assert quote.is_visible() and quote.evaluate("mark => { const r = mark.getBoundingClientRect();"
                                                 " return r.top >= 0 && r.bottom <= window.innerHeight; }")
    listed = page.locator("#evidence .turn-panel:not([hidden]) mark.quote").first.inner_text()
    assert quote.inner_text() == listed and "Vienna" in listed
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "answer.png"))


def test_thumbs_up_is_saved(window):
    window.page.locator("#chat button[aria-label='Like']").last.click()
    feedback = Path(window.pipeline.settings.data_dir) / "feedback.jsonl"
    deadline = time.monotonic() + 10
    while not feedback.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    record = json.loads(feedback.read_text().splitlines()[-1])
    assert record["rating"] == "up" and "Vienna" in record["answer"] and record["citations"]


def test_markup_in_a_document_or_question_is_shown_as_text(window, tmp_path):
    page = window.page
    hostile = tmp_path / "zebra.txt"
    hostile.write_text(HOSTILE)
    page.locator("input[type=file]").set_input_files(str(hostile))
    page.wait_for_function("document.querySelector('#index-log textarea').value.includes('1 added')",
                           timeout=120_000)
    scripts_before = page.locator("script").count()
    ask(page, "What is the codename of the zebra project? <img src=x onerror=alert(3)>")
    panel = page.locator("#evidence .turn-panel:not([hidden])").inner_text()
    assert "<script>alert(1)</script>" in panel and "<img src=x onerror=alert(2)>" in panel
    assert "**not bold** [a link](http://example.com)" in panel  # no markdown either
    assert "<img src=x onerror=alert(3)>" in page.locator("#chat").inner_text()
    time.sleep(1)  # an onerror handler would have fired by now
    assert window.dialogs == []
    assert page.locator("img[src='x']").count() == 0 and page.locator("script").count() == scripts_before


def test_refusal_is_styled_and_lists_the_closest_passages(window):
    page = window.page
    page.click("#new-chat")
    # ask() counts the answers already shown: wait for the clear first, or a slow clear makes it wait for one too many
    page.wait_for_function(f"document.querySelectorAll({json.dumps(FINAL)}).length === 0", timeout=120_000)
    ask(page, "What is the capital of Australia?")
    refusal = page.locator("#chat .refusal").last
    assert "The documents don't say." in refusal.inner_text() and refusal.locator("a.cite").count() > 0
    assert "Canberra" not in page.locator("#chat").inner_text()
    page.screenshot(path=str(DOCS / "refusal.png"))


# Times from the click on Ask, taken in the page by a MutationObserver (no polling step in them): the passages in the
# evidence panel (turn 0 of a new chat), the first streamed answer text, the final answer.
WATCH = """() => {
  const times = window.__times = {};
  const seen = (name, now) => { if (!(name in times)) times[name] = now; };
  let clicked = null;
  document.querySelector("#send").addEventListener("click", () => { clicked = performance.now(); }, {capture: true, once: true});
  new MutationObserver(() => {
    if (clicked === null) return;
    const now = (performance.now() - clicked) / 1000;
    if (document.querySelector('#evidence .turn-panel[data-turn="0"] ol.sources li')) seen("passages", now);
    const streaming = document.querySelector("#chat .streaming");
    if (streaming && streaming.textContent.trim()) seen("first_text", now);
    if (document.querySelector(FINAL)) seen("final", now);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}""".replace("FINAL", json.dumps(FINAL))


def test_passages_are_shown_before_the_answer_is_written(window, record_property):
    page = window.page
    page.click("#new-chat")
    page.wait_for_function(f"document.querySelectorAll({json.dumps(FINAL)}).length === 0", timeout=120_000)
    page.evaluate(WATCH)
    ask(page, "Why was the February trip called off?")
    page.wait_for_function("'final' in window.__times", timeout=10_000)
    times = page.evaluate("window.__times")
    for name, seconds in times.items():
        record_property(f"click_to_{name}_s", round(seconds, 3))
    assert times["passages"] < times["final"]
    assert "first_text" not in times or times["passages"] <= times["first_text"]  # the answer may come in one piece


@pytest.fixture(scope="module")
def queued(tmp_path_factory, embedder, chromium):
    """A window on a gated scripted model (the slot stays taken while the test needs it), and two users' pages."""
    llm = GatedLLM("It was called off after a Chinese weather balloon was spotted over U.S. airspace [1].")
    with serve_app(tmp_path_factory.mktemp("queued"), llm, embedder) as (url, _):
        pages = [open_page(chromium, url) for _ in range(2)]
        yield SimpleNamespace(llm=llm, pages=pages)
        for page in pages:
            page.close()


def test_a_second_user_sees_their_place_and_an_estimate_in_the_chat(queued, tmp_path, record_property):
    first, second = queued.pages
    ask(first, "Who did Blinken meet in Beijing?")  # one answer timed: the estimate's base
    queued.llm.gate.clear()
    queued.llm.entered.clear()
    first.fill("#question textarea", "Why was the February trip called off?")
    first.click("#send")
    assert queued.llm.entered.wait(60), "the first question never reached the model"
    second.fill("#question textarea", "In which city did Wang Yi and Jake Sullivan hold talks in May 2023?")
    second.click("#send")
    try:
        notice = second.locator("#chat .notice.waiting", has_text="Waiting: 1 question ahead of yours")
        notice.wait_for(timeout=60_000)
        assert "yours should start in about" in notice.inner_text()
        assert "In which city did Wang Yi" in second.locator("#chat").inner_text()  # the question is in the chat
        second.screenshot(path=str(tmp_path / "waiting.png"))
        record_property("screenshot", str(tmp_path / "waiting.png"))
    finally:
        queued.llm.gate.set()
    second.wait_for_function(f"document.querySelectorAll({json.dumps(FINAL)}).length > 0", timeout=120_000)
    assert second.locator("#chat .notice.waiting").count() == 0
