"""The window's "Test my documents" tab: the table's rows as eval items, then the running window driven through
gradio_client over the real seeded index, with a scripted model that drafts from the passage each prompt shows and
answers with the drafted quote: drafting, editing, running and scoring, stopping, the answer slot it shares with
the chat, and the one-line messages for bad input."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from app_server import free_port, serve_demo
from scripted_llm import ScriptedLLM

from evals.dataset import load_items
from evals.metrics import contains_answer
from rag.answer.engine import Engine
from rag.draft.checks import contains
from rag.errors import BadInputError
from rag.generate.prompts import DRAFT_SYSTEM, UNANSWERABLE_SYSTEM
from rag.ui.draft_run import COLUMNS, items_of, write_kept
from rag.ui.drafts import wanted_count

MISSING = "banquet"  # named by the scripted unanswerable question; no seed document mentions it
POLLS = 3000  # status polls, 0.2 s apart, before a test gives up on a run that never ends


def test_the_count_to_draft_must_be_a_whole_number_from_1_to_200():
    assert (wanted_count(1), wanted_count(200.0), wanted_count("20")) == (1, 200, 20)
    for bad in (0, 201, 2.5, None, "many"):
        with pytest.raises(BadInputError):
            wanted_count(bad)


def test_ticked_rows_become_items_and_are_written_as_an_eval_set(tmp_path):
    rows = [[True, " Why was the trip called off? ", "a weather balloon | balloon", "A balloon was seen.", "a.txt", "why", "g001"],
            [False, "Who met Xi?", "Blinken", "Blinken met Xi.", "a.txt", "factoid", "g002"],
            ["true", "What did he eat?", "", "", "a.txt", "unanswerable", "g003"],
            [True, "Where did they meet?", "Vienna", "They met in Vienna.", "b.txt", "unanswerable", "g004"]]
    items = items_of(rows)
    assert [i.id for i in items] == ["g001", "g003", "g004"]
    assert items[0].question == "Why was the trip called off?" and items[0].answers == ["a weather balloon", "balloon"]
    assert (items[1].type, items[1].answers, items[1].sources) == ("unanswerable", [], [])
    assert items[2].type == "factoid"  # an answer typed into an unanswerable row makes it answerable
    assert load_items(write_kept(items, tmp_path / "kept.jsonl")) == items
    with pytest.raises(BadInputError, match="Row 2 has no question"):
        items_of([rows[0], [True, " ", "x", "", "a.txt", "factoid", "g9"]])
    with pytest.raises(BadInputError, match="Nothing to run"):
        items_of([[False, *rows[0][1:]]])


# ---- the running window, through gradio_client -----------------------------------------------------------------------
def words(text: str) -> str:
    return " ".join(text.split())


def passage_holding(prompt: str, sentence: str) -> int | None:
    """The number of the answer prompt's passage that holds the sentence, if one does."""
    blocks: dict[int, list[str]] = {}
    number = None
    for line in prompt.splitlines():
        if line.startswith("[") and "] " in line and line[1:line.index("]")].isdigit():
            number = int(line[1:line.index("]")])
        if number is not None:
            blocks.setdefault(number, []).append(line)
    return next((n for n, lines in blocks.items() if contains(" ".join(lines), sentence)), None)


class DocumentsLLM(ScriptedLLM):
    """Drafts from the passage a draft prompt shows (its first sentence is the quote, that sentence's last two words
    the answer); names a thing no seed mentions when asked for an unanswerable question; answers an answer prompt
    with the sentence `says` holds for its question, citing the passage holding it, else says the passages do not
    say. A draft call waits while `hold` is clear, and sets `drafting` when it arrives."""

    def __init__(self):
        super().__init__()
        self.says: dict[str, str] = {}
        self.asked: list[str] = []  # the questions of the answer prompts, in order
        self.hold, self.drafting = threading.Event(), threading.Event()
        self.hold.set()

    def stream(self, messages, max_tokens, info=None, gate=None):
        reply = self.reply(messages)
        for at, word in enumerate(reply.split(" ")):
            yield word if at == 0 else " " + word

    def reply(self, messages) -> str:
        system, prompt = messages[0]["content"], messages[-1]["content"]
        if system == UNANSWERABLE_SYSTEM:
            return f"Question: What was served at the state {MISSING} in Beijing?\nMissing: {MISSING}"
        if system == DRAFT_SYSTEM:
            self.drafting.set()
            assert self.hold.wait(120), "the test never let drafting go on"
            sentence = prompt.split(":\n", 1)[1].rsplit("\n\nWrite", 1)[0].split(". ")[0].rstrip(".")
            first = sentence.split()
            return (f"Question: What does the article say about {' '.join(first[:4])}?\nAnswer: {' '.join(first[-2:])}"
                    f"\nQuote: {sentence}")
        question = prompt.rsplit("Answer the question: ", 1)[-1]
        self.asked.append(question)
        said = self.says.get(question)
        number = passage_holding(prompt, said) if said else None
        return f"{said} [{number}]." if number else "The passages do not say."


@pytest.fixture(scope="module")
def window(seeded_pipeline, tmp_path_factory):
    """(url, model, llm) of a window around the seeded index, with its own data folder."""
    llm = DocumentsLLM()
    settings = seeded_pipeline.settings.model_copy(update={"port": free_port(),
                                                           "data_dir": tmp_path_factory.mktemp("data")})
    with serve_demo(Engine(seeded_pipeline, llm), settings) as url:
        yield url, settings.model, llm


def client_of(url: str):
    from gradio_client import Client

    return Client(url, verbose=False)


def status(client) -> tuple[str, list[list], dict]:
    line, table, record, _ = client.predict(api_name="/draft_status")
    return line, [row for row in table["data"] if row], record


def finished(client) -> tuple[str, list[list], dict]:
    """Poll the tab's status until the drafting run ends."""
    for _ in range(POLLS):
        line, rows, record = status(client)
        if not record["running"]:
            return line, rows, record
        time.sleep(0.2)
    raise AssertionError(f"drafting never ended: {line}")


def table(rows: list[list]) -> dict:
    return {"headers": COLUMNS, "data": rows}


@pytest.fixture(scope="module")
def drafted(window):
    """Ten questions drafted through the window: (its final line, the rows, the record)."""
    url, model, _ = window
    client = client_of(url)
    line, _ = client.predict(10, model, api_name="/draft")
    assert line.startswith("Drafting 10 questions")
    return finished(client)


@pytest.mark.slow
def test_drafting_n_questions_lists_n_rows_whose_quotes_are_in_the_documents(drafted, seeded_pipeline):
    line, rows, record = drafted
    assert len(rows) == 10 and record["kept"] == 10 and line.startswith("Drafted 10 of 10 questions")
    texts = {r.source: seeded_pipeline.document(r.file_hash)[0] for r in seeded_pipeline.store.manifest().values()}
    answerable = [row for row in rows if row[2]]
    assert answerable and len({row[6] for row in rows}) == 10
    for keep, _, answer, quote, source, kind, _ in answerable:
        assert keep is True and quote in texts[source] and contains(quote, answer) and kind != "unanswerable"
    assert [row[5] for row in rows if not row[2]] == ["unanswerable"]
    written = [json.loads(line) for line in open(record["out"], encoding="utf-8")]
    assert [item["question"] for item in written] == [row[1] for row in rows]


@pytest.mark.slow
def test_the_edited_and_kept_rows_are_what_is_run_scored_and_written(window, drafted):
    url, model, llm = window
    rows = [list(row) for row in drafted[1]]
    answerable = [row for row in rows if row[2]]
    for row in answerable:
        llm.says[row[1]] = words(row[3])  # the model answers with the drafted quote: it holds the drafted answer
    edited, dropped, regolded = answerable[:3]
    original = edited[1]
    edited[1] = "According to the articles, " + original[0].lower() + original[1:]
    llm.says[edited[1]] = llm.says[original]
    dropped[0] = False
    regolded[2] = "zanzibar marmalade"  # the model still says the quote, which lacks the new answer
    asked_before = len(llm.asked)
    summary, shown, plot, record = client_of(url).predict(table(rows), model, api_name="/run_drafts")

    asked = llm.asked[asked_before:]
    assert edited[1] in asked and original not in asked and dropped[1] not in asked and len(asked) == 9
    kept = load_items(record["kept_file"])
    assert [item.id for item in kept] == [row[6] for row in rows if row[0]]
    assert {item.id: item.question for item in kept}[edited[6]] == edited[1]
    assert {item.id: item.answers for item in kept}[regolded[6]] == ["zanzibar marmalade"]

    results = {row[0]: row for row in shown["data"]}
    assert len(results) == record["n"] == 9 and plot
    for item in kept:  # right/wrong as the evals score it, from the answer the report shows
        _, question, result, _, given = results[item.id]
        refused = given.startswith("The documents don't say.")
        right = refused if not item.answers else not refused and contains_answer(given, item.answers)
        assert question == item.question and result == ("right" if right else "wrong")
    assert results[regolded[6]][2] == "wrong" and results[edited[6]][2] == "right"
    unanswerable = [item.id for item in kept if not item.answers]
    assert [results[i][2] for i in unanswerable] == ["right"]
    right = sum(row[2] == "right" for row in shown["data"])
    assert (record["right"], record["unanswerable"], record["refused_unanswerable"]) == (right, 1, 1)
    assert record["false_refusals"] == sum(results[i.id][4].startswith("The documents don't say.") for i in kept
                                           if i.answers)
    assert f"{right} of 9 right" in summary and record["kept_file"] in summary


@pytest.mark.slow
def test_running_with_nothing_kept_is_one_line_and_asks_nothing(window, drafted):
    url, model, llm = window
    asked = len(llm.asked)
    summary, shown, _, record = client_of(url).predict(table([[False, *row[1:]] for row in drafted[1]]), model,
                                                       api_name="/run_drafts")
    assert summary == "Nothing to run: tick keep on at least one drafted question" and not any(shown["data"])
    assert len(llm.asked) == asked and record["error"]


@pytest.mark.slow
def test_a_count_out_of_range_is_one_line_and_loses_nothing(window, drafted):
    url, model, _ = window
    client = client_of(url)
    before = status(client)
    for bad in (0, 201):
        line, timer = client.predict(bad, model, api_name="/draft")
        assert line == f"Draft 1 to 200 questions at a time, not {bad}" and not timer["active"]
    assert status(client) == before


@pytest.mark.slow
def test_stop_keeps_what_was_drafted_in_the_partial_log(window, drafted):
    url, model, _ = window
    client = client_of(url)
    assert client.predict(200, model, api_name="/draft")[0].startswith("Drafting 200 questions")
    for _ in range(POLLS):
        if status(client)[2]["kept"] >= 2:
            break
        time.sleep(0.2)
    assert client.predict(api_name="/stop_drafts").startswith("Stopping after this try")
    line, rows, record = finished(client)
    assert line.startswith(f"Stopped: kept {record['kept']} of") and record["stopped"] and len(rows) == record["kept"] >= 2
    assert record["out"].endswith(".jsonl.partial") and not Path(record["out"].removesuffix(".partial")).exists()
    logged = [json.loads(line)["item"] for line in open(record["out"], encoding="utf-8")]
    assert [item["question"] for item in logged if item] == [row[1] for row in rows]


@pytest.mark.slow
def test_a_draft_try_holds_the_answer_slot_so_a_chat_question_waits(window, drafted):
    url, model, llm = window
    drafting, chatting = client_of(url), client_of(url)
    llm.hold.clear()
    llm.drafting.clear()
    try:
        drafting.predict(1, model, api_name="/draft")
        assert llm.drafting.wait(120), "no draft try reached the model"
        waiting = chatting.submit("Why was the February trip called off?", api_name="/chat")
        for _ in range(POLLS):
            if waiting.done() or any("waiting" in update[-1] for update in waiting.outputs()):
                break
            time.sleep(0.1)
        shown = next((update[-1] for update in waiting.outputs() if "waiting" in update[-1]), None)
        assert shown and shown["waiting"]["ahead"] == 1, waiting.outputs()[-1:]
    finally:
        llm.hold.set()
    assert waiting.result(timeout=120)[-1]["refused"]
    assert finished(drafting)[2]["kept"] == 1


# ---- bad input, each in a window of its own ----------------------------------------------------------------------------
@pytest.mark.slow
def test_a_model_that_returns_garbage_is_one_line_in_the_tab(seeded_pipeline, tmp_path):
    settings = seeded_pipeline.settings.model_copy(update={"port": free_port(), "data_dir": tmp_path})
    with serve_demo(Engine(seeded_pipeline, ScriptedLLM(*["I cannot help with that."] * 50)), settings) as url:
        client = client_of(url)
        assert client.predict(5, settings.model, api_name="/draft")[0].startswith("Drafting 5 questions")
        line, rows, record = finished(client)
    assert line.startswith("Drafting stopped: The model scripted returned no usable question") and "\n" not in line
    assert rows == [] and record["kept"] == 0 and "no usable question" in record["error"]
    assert "choose default under Model in the sidebar" in line and "--" not in line, "the window's words, not CLI flags"


@pytest.mark.slow
def test_no_documents_is_one_line_in_the_tab(fresh_pipeline):
    pipeline, llm = fresh_pipeline(), ScriptedLLM()
    settings = pipeline.settings.model_copy(update={"port": free_port()})
    with serve_demo(Engine(pipeline, llm), settings) as url:
        client = client_of(url)
        line, timer = client.predict(20, settings.model, api_name="/draft")
        assert line.startswith("No documents are indexed:") and "\n" not in line and not timer["active"]
        assert status(client)[0].startswith("Nothing drafted yet") and llm.prompts == []
