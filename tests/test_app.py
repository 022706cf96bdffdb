"""The chat window: its safety checks, rendering and answer slots, then the running app driven through gradio_client
with the real index and the bundled fast model (marked llm), and with a gated scripted model for the queue."""

from __future__ import annotations

import json
import threading
import time
from html import escape, unescape
from pathlib import Path

import pytest
from app_server import serve_app
from scripted_llm import GatedLLM

from rag.errors import BadInputError
from rag.ui.feedback import append_feedback
from rag.ui.render import highlight, passage_html
from rag.ui.slots import AnswerSlots, waiting_text
from rag.ui.uploads import free_names, remove_document, safe_upload_name, save_upload


@pytest.mark.parametrize("name", ["../../evil.txt", "/etc/passwd.txt", "..\\evil.txt", ".hidden.txt", "..",
                                  "evil.exe", "notes", "bad\x00name.txt", "x" * 300 + ".txt"])
def test_unsafe_or_unsupported_upload_names_are_refused(name):
    with pytest.raises(BadInputError):
        safe_upload_name(name)


def test_supported_names_pass():
    assert [safe_upload_name(n) for n in ("notes.md", "Report 2024.PDF", "a.docx")] == ["notes.md", "Report 2024.PDF",
                                                                                         "a.docx"]


def test_upload_over_the_size_limit_is_refused_and_not_saved(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (2**20 + 1))
    with pytest.raises(BadInputError, match="1 MB upload limit"):
        save_upload(big, "big.txt", tmp_path / "docs", max_mb=1)
    assert not (tmp_path / "docs" / "big.txt").exists()


def test_an_upload_named_like_a_different_document_keeps_both(tmp_path):
    docs, first, second = tmp_path / "docs", tmp_path / "a" / "report.txt", tmp_path / "b" / "report.txt"
    for path, text in ((first, "The first report says the budget is 40 euros."),
                       (second, "The second report says the deadline is in May.")):
        path.parent.mkdir()
        path.write_text(text)
    assert save_upload(first, "report.txt", docs, max_mb=1).message == "saved report.txt"
    saved = save_upload(second, "report.txt", docs, max_mb=1)
    assert saved.path == docs / "report (2).txt" and saved.new
    assert saved.message == "saved report (2).txt: a different report.txt is already there, so both are kept"
    assert (docs / "report.txt").read_text() == first.read_text()
    assert (docs / "report (2).txt").read_text() == second.read_text()
    third = tmp_path / "report.txt"
    third.write_text("A third report: the venue is Graz.")
    assert save_upload(third, "report.txt", docs, max_mb=1).path == docs / "report (3).txt"
    assert sorted(p.name for p in docs.iterdir()) == ["report (2).txt", "report (3).txt", "report.txt"]


def test_the_same_bytes_uploaded_again_are_already_indexed_and_nothing_is_written(tmp_path):
    docs, notes = tmp_path / "docs", tmp_path / "notes.txt"
    notes.write_text("Meeting notes: the venue is Graz.")
    save_upload(notes, "notes.txt", docs, max_mb=1)
    before = (docs / "notes.txt").stat().st_mtime_ns
    again = save_upload(notes, "notes.txt", docs, max_mb=1, indexed={"notes.txt"})
    assert (again.path, again.new, again.message) == (docs / "notes.txt", False, "notes.txt: already indexed (the same bytes)")
    renamed = save_upload(notes, "copy of notes.txt", docs, max_mb=1, indexed={"notes.txt"})
    assert (renamed.new, renamed.message) == (False, "copy of notes.txt: already indexed as notes.txt (the same bytes)")
    assert [p.name for p in docs.iterdir()] == ["notes.txt"] and (docs / "notes.txt").stat().st_mtime_ns == before


def test_the_same_bytes_in_the_folder_but_not_indexed_are_indexed_not_copied(tmp_path):
    """After an indexing failure the file is in the folder and not in the index: uploading it again indexes it."""
    docs, notes = tmp_path / "docs", tmp_path / "notes.txt"
    notes.write_text("Meeting notes: the venue is Graz.")
    save_upload(notes, "notes.txt", docs, max_mb=1)
    again = save_upload(notes, "notes.txt", docs, max_mb=1, indexed={"other.txt"})
    assert (again.path, again.new) == (docs / "notes.txt", True)
    assert again.message == ("notes.txt: already in the documents folder but not indexed (an earlier indexing failed); "
                             "indexing it")
    assert [p.name for p in docs.iterdir()] == ["notes.txt"]


def test_free_names_stay_within_the_name_limit():
    names = free_names("x" * 196 + ".pdf")
    assert next(names) == "x" * 196 + ".pdf"
    second = next(names)
    assert second.endswith(" (2).pdf") and len(second) == 200 and safe_upload_name(second) == second


def test_remove_only_deletes_indexed_files_inside_the_folder(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("a")
    (tmp_path / "secret.txt").write_text("keep")
    with pytest.raises(BadInputError):
        remove_document("../secret.txt", tmp_path / "docs", {"../secret.txt"})
    with pytest.raises(BadInputError, match="not in the index"):
        remove_document("b.txt", tmp_path / "docs", {"a.txt"})
    remove_document("a.txt", tmp_path / "docs", {"a.txt"})
    assert (tmp_path / "secret.txt").exists() and not (tmp_path / "docs" / "a.txt").exists()


def test_highlight_escapes_markup_and_never_nests_marks():
    html = highlight("<b>x</b> then <script>alert(1)</script>", [(0, 8, "1"), (4, 20, "2")])
    assert html == ('<mark data-mark="1">&lt;b&gt;x&lt;/b&gt;</mark><mark data-mark="2"> then &lt;scrip</mark>'
                    't&gt;alert(1)&lt;/script&gt;')


def test_quote_is_shown_inside_its_surrounding_passage(seeded_pipeline):
    item = seeded_pipeline.evidence("Why was the February trip called off?")[0]
    document = seeded_pipeline.document_text(item)
    html = passage_html(document, item, around=300)
    before, after = html.split(f'<mark class="quote">{escape(item.text)}</mark>')
    assert 0 < len(unescape(before)) <= 301 and 0 < len(unescape(after)) <= 301  # cut at a space, plus "…"


def test_feedback_is_appended_as_json_lines(tmp_path):
    append_feedback(tmp_path, "Q1?", None, "down", shown="an error")
    append_feedback(tmp_path, "Q2?", None, "up")
    lines = [json.loads(line) for line in (tmp_path / "feedback.jsonl").read_text().splitlines()]
    assert [(r["question"], r["rating"]) for r in lines] == [("Q1?", "down"), ("Q2?", "up")]
    assert set(lines[0]) == {"time", "question", "answer", "refused", "grounding", "citations", "rating"}


def test_questions_take_the_slot_in_arrival_order_and_know_their_place():
    now = [100.0]
    slots = AnswerSlots(1, clock=lambda: now[0])
    first, second, third = slots.join(), slots.join(), slots.join()
    assert slots.place(third).start_in_s is None and "being timed" in waiting_text(slots.place(third))
    slots.finished(30.0)
    assert not slots.wait(second, 0) and slots.wait(first, 0)  # the one who came first starts, whoever asks first
    now[0] += 12.0
    place = slots.place(third)
    assert (place.ahead, place.start_in_s) == (2, 48.0)  # the running answer's 18 s left, then the second's 30
    assert waiting_text(place) == "Waiting: 2 questions ahead of yours; yours should start in about 50 s."
    slots.leave(first, answered_s=10.0)  # the median of 30 and 10: 20
    assert slots.wait(second, 0) and slots.place(third).public() == {"ahead": 1, "start_in_s": 20.0, "indexing": False}
    now[0] += 25.0  # the second answer overran the estimate: the third should start any moment
    assert slots.place(third).start_in_s == 0.0 and waiting_text(slots.place(third)).endswith("in about 5 s.")


def test_a_question_that_leaves_the_line_lets_the_next_one_start():
    slots = AnswerSlots(1)
    first, second, third = slots.join(), slots.join(), slots.join()
    assert slots.wait(first, 0)
    slots.leave(second)  # its page went away while it waited
    assert slots.place(third).ahead == 1
    slots.leave(first)
    assert slots.wait(third, 0)


def test_two_slots_answer_two_at_once_and_indexing_takes_them_all():
    slots = AnswerSlots(2)
    tickets = [slots.join() for _ in range(4)]
    assert slots.wait(tickets[0], 0) and slots.wait(tickets[1], 0) and not slots.wait(tickets[2], 0)
    indexed = threading.Event()

    def index():
        with slots.exclusive():
            indexed.set()

    indexer = threading.Thread(target=index)
    indexer.start()
    slots.leave(tickets[0])
    assert not slots.wait(tickets[2], 0.2) and not indexed.is_set()  # the index run waits for answer 1, holds back 2
    assert slots.place(tickets[2]).indexing and "documents are being indexed" in waiting_text(slots.place(tickets[2]))
    slots.leave(tickets[1])
    indexer.join(10)
    assert indexed.is_set() and slots.wait(tickets[2], 0) and slots.wait(tickets[3], 0)


# ---- the running app, through gradio_client -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def app(tmp_path_factory, fast_llm, embedder):
    with serve_app(tmp_path_factory.mktemp("app"), fast_llm, embedder) as running:
        yield running


def chat(client, question: str) -> tuple[str, str, dict]:
    """Ask through the window's own chat event; returns (last assistant message HTML, evidence panel HTML, record)."""
    messages, panel, _, record = client.predict(question, api_name="/chat")
    return messages[-1]["content"][0]["text"], panel, record


@pytest.mark.llm
def test_ask_then_follow_up(app):
    from gradio_client import Client

    url, pipeline = app
    client = Client(url, verbose=False)
    message, panel, record = chat(client, "In which city did Wang Yi and Jake Sullivan hold talks in May 2023?")
    assert not record["refused"] and "Vienna" in record["answer"]
    assert record["citations"] and 'href="#cite-0-' in message and '">Answered from ' in message
    assert '<details class="decision"><summary>How this was decided</summary>' in panel
    texts = {r.source: pipeline.store.document_text(r.file_hash) for r in pipeline.store.manifest().values()}
    for citation in record["citations"]:
        assert texts[citation["source"]][citation["start"]:citation["end"]] == citation["quote"]
        assert '<mark data-mark="' in panel and citation["source"] in panel

    message, panel, record = chat(client, "What did they talk about there?")
    assert record["standalone_question"] != "What did they talk about there?"
    assert any(name in record["standalone_question"] for name in ("Wang", "Sullivan", "Vienna"))
    assert "Understood as:" in message


@pytest.mark.llm
def test_question_outside_the_documents_is_refused_with_closest_passages(app):
    from gradio_client import Client

    message, panel, record = chat(Client(app[0], verbose=False), "What is the capital of Australia?")
    assert record["refused"] and record["citations"] == []
    assert "The documents don't say." in message and "Canberra" not in message
    assert "Closest passages found" in panel and "The documents don&#x27;t say</span>" in panel
    assert record["decision"]["verdict"] == "refused" and "How this was decided" in panel


@pytest.mark.llm
def test_bad_question_is_shown_in_the_chat(app):
    from gradio_client import Client

    message, _, record = chat(Client(app[0], verbose=False), "?!")
    assert "no words" in record["error"] and 'class="notice error"' in message


@pytest.mark.llm
def test_upload_then_ask_about_it_then_remove(app, tmp_path):
    from gradio_client import Client, handle_file

    url, pipeline = app
    client = Client(url, verbose=False)
    notes = tmp_path / "zebra_notes.txt"
    notes.write_text("Project notes.\n\nThe zebra project has the codename Marmalade. It was approved in March 2021 "
                     "by the board of the Larkspur Institute.\n")
    table, _, log, _ = client.predict([handle_file(str(notes))], api_name="/upload")
    assert "saved zebra_notes.txt" in log and "1 added" in log and "zebra_notes.txt" in table
    _, _, log, _ = client.predict([handle_file(str(notes))], api_name="/upload")
    assert log == "zebra_notes.txt: already indexed (the same bytes)"
    other = tmp_path / "other" / "zebra_notes.txt"
    other.parent.mkdir()
    other.write_text("Other notes.\n\nThe zebra project's second phase is called Quince.\n")
    table, _, log, _ = client.predict([handle_file(str(other))], api_name="/upload")
    assert "saved zebra_notes (2).txt: a different zebra_notes.txt is already there, so both are kept" in log
    assert "1 added" in log and "zebra_notes (2).txt" in table and "zebra_notes.txt" in pipeline.store.manifest()
    client.predict("zebra_notes (2).txt", api_name="/remove")

    _, _, record = chat(client, "What is the codename of the zebra project?")
    assert not record["refused"] and "Marmalade" in record["answer"]
    assert {c["source"] for c in record["citations"]} == {"zebra_notes.txt"}

    table, _, log = client.predict("zebra_notes.txt", api_name="/remove")
    assert "1 removed" in log and "zebra_notes.txt" not in table
    assert "zebra_notes.txt" not in pipeline.store.manifest()
    assert not (Path(pipeline.settings.seeds_dir) / "zebra_notes.txt").exists()


@pytest.mark.slow
def test_a_second_question_waits_behind_the_first_with_its_place_and_an_estimate(tmp_path, embedder):
    """Two sessions at once through gradio_client: the second question's streamed record and message say it waits
    behind one other question, with an estimate from the answer timed before; then both are answered."""
    from gradio_client import Client

    llm = GatedLLM("It was called off after a Chinese weather balloon was spotted [1].")
    with serve_app(tmp_path, llm, embedder) as (url, _):
        first, second = Client(url, verbose=False), Client(url, verbose=False)
        first.predict("Who did Blinken meet in Beijing?", api_name="/chat")  # one answer timed: the estimate's base
        llm.gate.clear()
        llm.entered.clear()
        held = first.submit("Why was the February trip called off?", api_name="/chat")
        assert llm.entered.wait(60), "the first question never reached the model"
        waiting = second.submit("In which city did Wang Yi and Jake Sullivan hold talks in May 2023?", api_name="/chat")
        deadline = time.monotonic() + 60
        while not any("waiting" in update[-1] for update in waiting.outputs()) and time.monotonic() < deadline:
            time.sleep(0.1)
        llm.gate.set()
        shown_waiting = next((update for update in waiting.outputs() if "waiting" in update[-1]), None)
        assert shown_waiting, f"the second question never said it was waiting: {waiting.outputs()[-1:]}"
        messages, _, _, record = shown_waiting
        assert record["waiting"]["ahead"] == 1 and record["waiting"]["start_in_s"] >= 0 and not record["waiting"]["indexing"]
        shown = unescape(messages[-1]["content"][0]["text"])
        assert "Waiting: 1 question ahead of yours; yours should start in about " in shown
        assert held.result(timeout=60)[-1]["standalone_question"] == "Why was the February trip called off?"
        final = waiting.result(timeout=60)[-1]
        assert "waiting" not in final and final["standalone_question"].startswith("In which city did Wang Yi")
