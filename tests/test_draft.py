"""Drafting eval questions from the documents: each check on scripted replies through the real index (real
retrieval for the round trip), the whole-set writer (resume after a kill, nothing half-written, bad input), and the
real fast model drafting a few items."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import SEEDS
from scripted_llm import ScriptedLLM

from rag.draft.checks import (
    DraftChecks,
    check_answerable,
    check_unanswerable,
    contains,
    key_terms,
    locate_quote,
    parse_fields,
    question_type,
    restates,
)
from rag.draft.cli import describe
from rag.draft.passages import DraftPassage, document_passages, spread_passages
from rag.draft.question_set import draft_set
from rag.errors import BadInputError, RagError

BALLOON = "weather balloon"


def balloon_passage(pipeline) -> DraftPassage:
    """The seed passage that says why the February trip was called off."""
    for passage in spread_passages(pipeline):
        if BALLOON in passage.text and "February" in passage.text:
            return passage
    raise AssertionError("no passage about the balloon")


def reply(question: str, answer: str, quote: str) -> str:
    return f"Question: {question}\nAnswer: {answer}\nQuote: {quote}"


def quote_of(passage: DraftPassage) -> str:
    return next(s for s in passage.text.split(". ") if BALLOON in s)


def test_labelled_lines_parse_and_garbage_does_not():
    assert parse_fields("Question: Why?\nAnswer: because\nQuote: \"It was.\"") == \
        {"question": "Why?", "answer": "because", "quote": "It was."}
    assert parse_fields("I cannot help with that.") == {}
    assert parse_fields("Why is it on?\nAnswer: because") == {"question": "Why is it on?", "answer": "because"}


def test_a_paraphrased_answer_is_graded_by_its_words_in_the_quote():
    quote = "This script is started when a subnet becomes reachable."
    assert key_terms("It is started when a subnet becomes reachable.", quote) == [["reachable"], ["started"], ["becomes"]]
    assert key_terms("It runs at boot from cron.", quote) is None


def test_a_quote_is_found_verbatim_or_with_other_spacing_and_its_offsets_index_the_document():
    passage = DraftPassage("a.txt", "h", 100, 140, "Port 655 is used.\n  It listens on all.", "")
    assert locate_quote("Port 655 is used.", passage) == (100, 117)
    assert locate_quote("Port 655 is used. It listens on all", passage) == (100, 137)
    assert locate_quote("Port 656 is used.", passage) is None


def test_containment_is_by_whole_words():
    assert contains("Port 655 is used.", "port 655")
    assert not contains("Port 6550 is used.", "655")


def test_an_answer_that_restates_the_question_is_refused(seeded_pipeline):
    assert restates("extract the backtrace from a core dump file", "How can you get a backtrace from a core dump file?")
    assert not restates("aes-256-cbc", "Which cipher does tinc use by default?")
    passage = balloon_passage(seeded_pipeline)
    got = check_answerable(reply("Why was Blinken's February trip to Beijing called off?",
                                 "Blinken's February trip to Beijing was called off", quote_of(passage)),
                           passage, seeded_pipeline, DraftChecks())
    assert got.item is None and got.reason in ("the answer restates the question", "the answer is not in the quote")


def test_types_come_from_the_question():
    assert question_type("Why does tinc drop packets?") == "why"
    assert question_type("How do I set the port?") == "how"
    assert question_type("How many packets are tracked?") == "factoid"


def test_a_good_draft_is_kept_with_its_quote_at_its_offsets(seeded_pipeline):
    passage = balloon_passage(seeded_pipeline)
    quote = quote_of(passage)
    got = check_answerable(reply("Why was Blinken's February trip to Beijing called off?", "a Chinese weather balloon",
                                 quote), passage, seeded_pipeline, DraftChecks())
    assert got.reason == "" and got.item["drafted"] is True
    text = seeded_pipeline.document(passage.file_hash)[0]
    assert text[got.item["quote_start"]:got.item["quote_end"]] == got.item["quotes"][0]
    assert got.item["type"] == "why" and got.item["sources"] == [passage.source]


@pytest.mark.parametrize("question, answer, quote, reason", [
    ("Why was the trip called off?", "a weather balloon", "A balloon was seen over Montana.", "not verbatim"),
    ("Why was the trip called off?", "a spy plane", None, "answer is not in the quote"),
    ("Why was the weather balloon trip called off?", "weather balloon", None, "gives its answer away"),
    ("What is the capital of Australia?", "balloon", None, "top 3"),
])
def test_each_check_refuses_its_draft(seeded_pipeline, question, answer, quote, reason):
    passage = balloon_passage(seeded_pipeline)
    got = check_answerable(reply(question, answer, quote or quote_of(passage)), passage, seeded_pipeline, DraftChecks())
    assert got.item is None and reason in got.reason


def test_a_near_duplicate_of_a_kept_question_is_refused(seeded_pipeline):
    passage, checks = balloon_passage(seeded_pipeline), DraftChecks()
    first = check_answerable(reply("Why was Blinken's February trip to Beijing called off?", "a Chinese weather balloon",
                                   quote_of(passage)), passage, seeded_pipeline, checks)
    checks.add(first.item)
    again = check_answerable(reply("Why was Blinken's February trip to Beijing cancelled?", "weather balloon",
                                   quote_of(passage)), passage, seeded_pipeline, checks)
    assert again.item is None and "near-duplicate" in again.reason


def test_an_unanswerable_question_must_name_a_thing_no_document_mentions(seeded_pipeline):
    passage = balloon_passage(seeded_pipeline)
    texts = [seeded_pipeline.document(passage.file_hash)[0]]
    kept = check_unanswerable("Question: What did Blinken eat at the state banquet?\nMissing: banquet", passage, texts,
                              DraftChecks())
    assert kept.item and kept.item["answers"] == [] and kept.item["type"] == "unanswerable"
    mentioned = check_unanswerable("Question: Where was the weather balloon seen?\nMissing: balloon", passage, texts,
                                   DraftChecks())
    assert mentioned.item is None and "do mention" in mentioned.reason


def test_passages_are_spread_over_every_document(seeded_pipeline):
    sources = {record.source for record in seeded_pipeline.store.manifest().values()}
    first = [p.source for _, p in zip(range(len(sources)), spread_passages(seeded_pipeline))]
    assert set(first) == sources  # one of each before any document's second


def test_headings_and_code_are_not_drafted_from(seeded_pipeline):
    record = next(iter(seeded_pipeline.store.manifest().values()))
    text, shape = seeded_pipeline.document(record.file_hash)
    for passage in document_passages(record.source, record.file_hash, text, shape):
        assert text[passage.start:passage.end] == passage.text
        assert all(shape.kinds[u.block] not in ("heading", "code") for u in shape.units
                   if passage.start <= u.start < passage.end)


def scripted_drafts(pipeline):
    """A reply for any passage: a question whose answer and quote are the passage's first sentence's last words."""
    def answer(messages):
        text = messages[-1]["content"].split(":\n", 1)[1].rsplit("\n\nWrite", 1)[0]
        sentence = text.split(". ")[0].rstrip(".")
        words = sentence.split()
        return reply(f"What does the article say about {' '.join(words[:4])}?", " ".join(words[-2:]), sentence)
    return answer


def test_a_killed_run_resumes_where_it_stopped_and_writes_the_set_whole(seeded_pipeline, tmp_path):
    out = tmp_path / "mine.jsonl"
    llm = ScriptedLLM(*[scripted_drafts(seeded_pipeline)] * 200)
    calls = []
    report = draft_set(seeded_pipeline, llm, 4, out, unanswerable_share=0.0,
                       should_stop=lambda: len(calls) >= 3, on_attempt=lambda r, item: calls.append(item))
    assert not out.exists()  # stopped early: nothing half-written, the partial log kept
    partial = out.with_name(out.name + ".partial")
    tried = [json.loads(line)["key"] for line in partial.read_text().splitlines()]
    assert len(tried) == 3
    resumed = draft_set(seeded_pipeline, llm, 4, out, unanswerable_share=0.0)
    assert resumed.tried > report.tried and not partial.exists()
    assert resumed.resumed == report.kept  # the rate counts only what this run kept in its own time
    assert report.kept > 0 and f"{report.kept} of them by an earlier run" in describe(resumed)
    items = [json.loads(line) for line in out.read_text().splitlines()]
    assert [item["id"] for item in items] == [f"g{n:03d}" for n in range(1, len(items) + 1)]
    assert all(item["drafted"] and item["quotes"] for item in items)


def test_a_model_that_returns_garbage_is_told_in_one_line(seeded_pipeline, tmp_path):
    with pytest.raises(RagError, match="no usable question"):
        draft_set(seeded_pipeline, ScriptedLLM(*["I cannot help with that."] * 20), 5, tmp_path / "g.jsonl")
    assert not (tmp_path / "g.jsonl").exists()


def test_an_empty_folder_is_told_in_one_line(fresh_pipeline, tmp_path):
    pipeline = fresh_pipeline()
    with pytest.raises(BadInputError, match="No documents are indexed"):
        list(spread_passages(pipeline))


def test_a_document_without_prose_is_told_in_one_line(fresh_pipeline, tmp_path):
    (tmp_path / "seeds" / "list.txt").write_text("apples\n\noranges\n\npears and plums\n")
    pipeline = fresh_pipeline()
    pipeline.index(progress=False)
    with pytest.raises(BadInputError, match="has a passage of prose"):
        list(spread_passages(pipeline))


@pytest.mark.llm
def test_the_fast_model_drafts_items_that_pass_every_check(tmp_path, embedder, fast_llm):
    from conftest import make_settings

    from rag.pipeline import Pipeline

    shutil.copytree(SEEDS, tmp_path / "seeds")
    pipeline = Pipeline(make_settings(tmp_path), embedder=embedder)
    pipeline.index(progress=False)
    report = draft_set(pipeline, fast_llm, 2, tmp_path / "d.jsonl", unanswerable_share=0.0)
    items = [json.loads(line) for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert report.kept == len(items) >= 1
    for item in items:
        text = pipeline.document(next(r.file_hash for r in pipeline.store.manifest().values()
                                      if r.source == item["sources"][0]))[0]
        assert text[item["quote_start"]:item["quote_end"]] == item["quotes"][0]
        graded_by_terms = item.get("key_terms") and all(contains(item["quotes"][0], t[0]) for t in item["key_terms"])
        assert contains(item["quotes"][0], item["answers"][0]) or graded_by_terms
