"""The chat window in a real headless Chromium (Debian's; `playwright install` cannot download here): streamed answer,
citation click to the highlighted quote, feedback, upload, a hostile document that must not execute, a refusal.
Saves docs/answer.png and docs/refusal.png."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from app_server import serve_app

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
def window(tmp_path_factory, fast_llm, embedder):
    sync_api = pytest.importorskip("playwright.sync_api")
    with serve_app(tmp_path_factory.mktemp("browser"), fast_llm, embedder) as (url, pipeline):
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(url)
            page.wait_for_selector("#status :text('Ready')", timeout=60_000)
            yield SimpleNamespace(page=page, dialogs=dialogs, pipeline=pipeline)
            browser.close()


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
