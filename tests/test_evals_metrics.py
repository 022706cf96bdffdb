"""The eval metrics, summary, report writer and regression gate, checked against hand-computed figures.

Everything here runs without a language model except the one end-to-end test marked `llm`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evals import gate, plots, report
from evals import metrics as m
from evals.baseline import cited_numbers, is_refusal
from evals.dataset import Item
from evals.run import ProgressLog, answer_records, log_name
from evals.summary import score_answer, summarise_answers

ROOT = Path(__file__).resolve().parents[1]


# ---- metrics ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("The U.S.-China talks [Source 2], in Beijing's hall.", "us china talks in beijing hall"),
    ("  An   answer\n[1, 3] ", "answer"),
    ("1,000 people; June 18-19, 2023", "1000 people june 18 19 2023"),
    ("", ""),
])
def test_normalise_answer(text, expected):
    assert m.normalise_answer(text) == expected


def test_contains_answer_whole_words_and_variants():
    assert m.contains_answer("He met Nicholas Burns [1].", ["Nicholas Burns", "Burns"])
    assert m.contains_answer("Talks with the US side", ["U.S."])
    assert not m.contains_answer("Burnside was there", ["Burns"])
    assert not m.contains_answer("anything", [])
    assert not m.contains_answer("[1] [2]", ["1"])  # citation markers are not answers


def test_token_f1():
    assert m.token_f1("Nicholas Burns, the ambassador", ["Nicholas Burns"]) == pytest.approx(0.8)
    assert m.token_f1("Xi", ["Wang Yi", "Xi Jinping"]) == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert m.token_f1("nothing shared", ["Vienna"]) == 0.0
    assert m.token_f1("Vienna", []) == 0.0


def test_key_term_recall_counts_groups_matched_as_whole_words():
    groups = [["balloon", "airship"], ["airspace", "spotted", "veered"], ["February"]]
    assert m.key_term_recall("A weather balloon was spotted over U.S. airspace [1].", groups) == pytest.approx(2 / 3)
    assert m.key_term_recall("The AIRSHIP veered off course in February [2].", groups) == 1.0
    assert m.key_term_recall("A balloonist's airspaces.", groups) == 0.0  # whole words only
    assert m.key_term_recall("[1] [2]", [["1"], ["2"]]) == 0.0  # citation markers are not terms
    assert m.key_term_recall("It rose 350 basis points, to 12%.", [["350"], ["12"]]) == 1.0
    assert m.key_term_recall("anything", []) == 1.0


@pytest.mark.parametrize("answer, repeated", [
    ("Blinken met Xi Jinping [1]. He also met Wang Yi. Blinken met Xi Jinping [2].", True),  # markers differ
    ("The talks were candid. THE TALKS WERE CANDID!", True),  # case and punctuation ignored
    ("Blinken met Xi in Beijing [1]. Blinken met Xi in Beijing on Monday, his last day [1].", True),  # trailing clause
    ("It was a balloon [1].\nIt was a balloon [1].", True),  # a line break ends a sentence too
    ("Blinken met Xi Jinping [1]. Blinken met Wang Yi [2].", False),
    ("Yes [1]. Yes [2].", False),  # shorter than MIN_REPEAT_WORDS: an echo, not a loop
    ("He met Xi in Beijing, and he met Xi in Beijing again.", False),  # one sentence, the phrase not back to back
    ("Austin declined because he was seeking to expand ties because he was seeking to expand ties because he", True),
    ("The talks were candid and constructive, candid and constructive.", False),  # 3 words twice: under MIN_LOOP_WORDS
    ("", False),
])
def test_has_repeated_sentence(answer, repeated):
    assert m.has_repeated_sentence(answer) is repeated


@pytest.mark.parametrize("answerable, correct, refused, score", [
    (True, True, False, 1), (True, False, False, -1), (True, False, True, 0),
    (False, False, True, 1), (False, False, False, -1),
])
def test_crag_score(answerable, correct, refused, score):
    assert m.crag_score(answerable, correct, refused) == score


def test_wilson_interval_matches_hand_computation():
    low, high = m.wilson_interval(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)
    assert m.wilson_interval(0, 0) == (0.0, 1.0)
    low, high = m.wilson_interval(10, 10)
    assert high == 1.0 and round(low, 3) == 0.722
    assert m.wilson_interval(0, 5)[0] == 0.0


def test_percentile_and_mean_and_rate():
    assert m.percentile([4, 1, 3, 2], 0.5) == 2.5
    assert m.percentile([1, 2, 3, 4, 5], 0.95) == pytest.approx(4.8)
    assert m.percentile([None, 7.0], 0.95) == 7.0
    assert m.percentile([], 0.5) is None
    assert m.mean([1.0, None, 0.5]) == 0.75 and m.mean([None]) is None
    assert m.rate([True, False, False, True]) == 0.5 and m.rate([]) is None


def test_hit_at_k_and_reciprocal_rank_count_distinct_sources():
    retrieved = ["b.txt", "a.txt", "b.txt", "c.txt"]
    assert not m.hit_at_k(retrieved, ["c.txt"], 2)
    assert m.hit_at_k(retrieved, ["c.txt"], 3)
    assert m.reciprocal_rank(retrieved, ["c.txt"]) == pytest.approx(1 / 3)
    assert m.reciprocal_rank(retrieved, ["z.txt"]) == 0.0
    assert not m.hit_at_k([], ["a.txt"], 5)


def test_citation_precision_recall():
    assert m.citation_precision(["a.txt", "b.txt", "a.txt"], ["a.txt"]) == 0.5
    assert m.citation_precision([], ["a.txt"]) is None
    assert m.citation_recall(["a.txt"], ["a.txt", "c.txt"]) == 0.5
    assert m.citation_recall(["a.txt"], []) is None


def test_quote_exactness():
    texts = {"a.txt": "Blinken met Xi on Monday."}
    good = {"source": "a.txt", "quote": "met Xi", "start": 8, "end": 14}
    assert m.quote_is_exact(good, texts)
    assert not m.quote_is_exact({**good, "quote": "met  Xi"}, texts)
    assert not m.quote_is_exact({**good, "start": None, "end": None}, texts)
    assert not m.quote_is_exact({**good, "source": "missing.txt"}, texts)
    assert not m.quote_is_exact({**good, "start": 20, "end": 99}, texts)
    assert m.quote_exactness([good, {**good, "start": 7}], texts) == 0.5
    assert m.quote_exactness([], texts) is None


# ---- summary over a small synthetic run ---------------------------------------------------------------------------
TEXT = "Blinken met Xi Jinping in Beijing. The talks ran for hours."
ITEMS = [
    Item("q1", "Whom did Blinken meet?", ["Xi Jinping"], ["a.txt"], ["Blinken met Xi Jinping"], "factoid"),
    Item("q2", "Where?", ["Beijing"], ["a.txt"], ["in Beijing"], "factoid"),
    Item("q3", "What did he eat? <script>alert(1)</script>", [], [], [], "unanswerable"),
    Item("q4", "How long?", ["hours"], ["a.txt"], ["ran for hours"], "followup",
         [{"role": "user", "content": "Who met?"}, {"role": "assistant", "content": "Blinken and Xi."}]),
]


def _record(item_id, answer, refused, citations=(), retrieved=("a.txt",), ttft=1.0, total=2.0, grounding=1.0):
    return {"id": item_id, "question": "?", "answer": answer, "refused": refused, "citations": list(citations),
            "retrieved": list(retrieved), "standalone_question": "?", "grounding": grounding, "prompt_tokens": 100,
            "ttft_s": ttft, "total_s": total}


RECORDS = [
    _record("q1", "Blinken met Xi Jinping [1].", False,
            [{"source": "a.txt", "quote": "Blinken met Xi Jinping in Beijing.", "start": 0, "end": 34}]),
    _record("q2", "In Shanghai <b>[1]</b>.", False,
            [{"source": "b.txt", "quote": "wrong", "start": 1, "end": 6}], retrieved=("b.txt", "a.txt")),
    _record("q3", "He ate <script>alert('x')</script> dumplings.", False, ttft=None, total=4.0),
    _record("q4", "The documents don't say.", True, retrieved=(), grounding=0.0),
]


def test_summary_figures_by_hand():
    overall = summarise_answers(ITEMS, RECORDS, {"a.txt": TEXT, "b.txt": "wrong text"})["overall"]
    assert overall["n"] == 4 and overall["n_answerable"] == 3
    assert overall["accuracy"] == 0.25  # only q1 is right; q3 should have been refused
    assert overall["answer_accuracy"] == pytest.approx(1 / 3)
    assert overall["refusal_rate"] == 0.0 and overall["false_refusal_rate"] == pytest.approx(1 / 3)
    assert overall["crag_score"] == pytest.approx((1 - 1 - 1 + 0) / 4)
    assert overall["citation_precision"] == 0.5  # q1 1.0, q2 0.0 (the refused q4 is not counted)
    assert overall["citation_recall"] == 0.5
    assert overall["citations"] == 2 and overall["quote_exactness"] == 0.5  # b.txt[1:6] is "rong "
    assert overall["hit@1"] == pytest.approx(1 / 3) and overall["mrr"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert overall["mean_grounding"] == 1.0  # refused q4 excluded
    assert overall["ttft_p50_s"] == 1.0 and overall["total_p50_s"] == 2.0
    low, high = overall["accuracy_ci"]
    assert (round(low, 3), round(high, 3)) == tuple(round(x, 3) for x in m.wilson_interval(1, 4))


KEY_ITEM = Item("k1", "Why was the trip called off?", ["balloon"], ["a.txt"], ["a balloon over US airspace"], "why",
                key_terms=[["balloon", "airship"], ["airspace", "spotted"]], split="heldout")


@pytest.mark.parametrize("answer, refused, correct, contained, recall", [
    ("Because of a balloon [1].", False, False, True, 0.5),  # contains the gold answer, misses a key term
    ("A balloon was spotted over US airspace [1].", False, True, True, 1.0),
    ("An airship entered US airspace [1].", False, True, False, 1.0),  # every group matched, no gold answer
    ("A balloon was spotted over US airspace [1].", True, False, False, 0.0),  # refused: never right
])
def test_correctness_with_key_terms(answer, refused, correct, contained, recall):
    score = score_answer(KEY_ITEM, _record("k1", answer, refused), {})
    assert (score["correct"], score["contained"], score["key_term_recall"]) == (correct, contained, recall)
    assert score["accurate"] is correct and score["split"] == "heldout"


def test_items_without_key_terms_are_judged_by_containment():
    score = score_answer(ITEMS[0], _record("q1", "He met Xi Jinping.", False), {})
    assert score["correct"] and score["key_term_recall"] is None


def test_summary_key_term_recall_and_repeats_and_splits():
    items = [KEY_ITEM, *ITEMS]
    records = [_record("k1", "A balloon. A balloon, it was said.", False),  # recall 0.5; "a balloon" < 3 words
               _record("q1", "Blinken met Xi Jinping [1]. Blinken met Xi Jinping [2].", False),
               _record("q3", "He ate dumplings. He ate dumplings.", True),  # refused: not counted as a repeat
               _record("q4", "It ran for hours.", False)]
    summary = summarise_answers(items, records, {})
    overall = summary["overall"]
    assert overall["key_term_recall"] == 0.5 and overall["answer_accuracy"] == pytest.approx(2 / 3)
    assert overall["containment_accuracy"] == 1.0
    assert overall["repeated_sentence_rate"] == pytest.approx(1 / 3)  # q1 of the answered k1, q1, q4
    assert summary["by_type"]["factoid"]["repeated_sentence_rate"] == 1.0
    assert summary["by_type"]["why"]["key_term_recall"] == 0.5
    assert set(summary["by_split"]) == {"heldout", "dev"} and summary["by_split"]["heldout"]["n"] == 1


def test_quote_exactness_counts_only_the_verbatim_quote():
    assert summarise_answers(ITEMS, RECORDS[1:2], {"b.txt": ">wrong text"})["overall"]["quote_exactness"] == 1.0
    assert summarise_answers(ITEMS, RECORDS[1:2], {"b.txt": ">WRONG text"})["overall"]["quote_exactness"] == 0.0
    assert summarise_answers(ITEMS, RECORDS[1:2], {})["overall"]["quote_exactness"] == 0.0


# ---- report ------------------------------------------------------------------------------------------------------
def test_report_is_self_contained_and_escapes_document_text(tmp_path):
    summaries = {"ours": summarise_answers(ITEMS, RECORDS, {"a.txt": TEXT}),
                 "baseline": summarise_answers(ITEMS, RECORDS[::-1], {"a.txt": TEXT})}
    records = {"ours": RECORDS, "baseline": RECORDS}
    figures = plots.answer_plots(summaries, tmp_path)
    assert [name for name, _ in figures] == ["accuracy_by_type.png", "latency.png", "ours_vs_baseline.png"]
    run = {"dataset": "qa.jsonl", "selection": "all", "n_items": 4, "model": "fast", "retrieval_only": False,
           "started": "today", "seconds": 1.0, "command": "python -m evals"}
    report.write_reports(tmp_path, report.answer_report(run, summaries, records, ITEMS, figures))
    page = (tmp_path / "report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>" not in page and "data:image/png;base64," in page and "src='accuracy_by_type.png'" not in page
    markdown = (tmp_path / "report.md").read_text()
    assert "| accuracy (answerable: contains a gold answer, or every key term; unanswerable: refused) | 0.250 [" in markdown
    assert "| answers that repeat a sentence (answered items) |" in markdown and "ours repeats" in markdown
    assert "| split | n | ours accuracy |" in markdown
    assert "q3 (unanswerable): answered an unanswerable question" in markdown and "<script>" not in markdown
    assert "![Accuracy by question type](accuracy_by_type.png)" in markdown


def test_baseline_answer_mapping():
    assert cited_numbers("Burns [Source 2]. Xi [1, 3] and [Source 2].") == [2, 1, 3]
    assert is_refusal("The context does not mention the date.") and is_refusal("  ")
    assert not is_refusal("Blinken met Xi Jinping on June 19 [Source 1].")


# ---- the regression gate -----------------------------------------------------------------------------------------
STORED = {"n": 12, "accuracy": 0.5, "hit@5": 0.95, "quote_exactness": 1.0, "false_refusal_rate": 0.2}


def _check(tmp_path, figures, tolerances=None):
    path = tmp_path / "baseline.json"
    entry = {"figures": STORED, **({"tolerances": tolerances} if tolerances else {})}
    path.write_text(json.dumps({"gates": {"answers/ours/fast/qa/subset_ci": entry}}))
    return gate.check({"ours": figures}, {"ours": "answers/ours/fast/qa/subset_ci"}, path)


def test_gate_passes_equal_and_within_tolerance(tmp_path):
    assert _check(tmp_path, dict(STORED)) == []
    assert _check(tmp_path, {**STORED, "accuracy": 0.46, "hit@5": 0.931, "false_refusal_rate": 0.29}) == []


def test_gate_fails_worse_figures(tmp_path):
    failures = _check(tmp_path, {**STORED, "accuracy": 0.4, "quote_exactness": 0.9, "false_refusal_rate": 0.35})
    assert len(failures) == 3
    assert any("accuracy 0.400 fell more than 0.050 below the stored 0.500" in f for f in failures)
    assert any("quote_exactness 0.900 is below the floor 1.000" in f for f in failures)
    assert _check(tmp_path, {**STORED, "accuracy": 0.4}, {"accuracy": {"max_drop": 0.1}}) == []
    assert _check(tmp_path, {**STORED, "n": 11})[0].endswith("not comparable")
    assert "hit@5 is missing" in _check(tmp_path, {**STORED, "hit@5": None})[0]


def test_gate_skips_repeats_until_stored_then_allows_no_rise(tmp_path):
    assert _check(tmp_path, {**STORED, "repeated_sentence_rate": 0.5}) == []  # the stored figures lack it
    path = tmp_path / "stored.json"
    gate.save({"ours": {**STORED, "repeated_sentence_rate": 0.0}}, {"ours": "k"}, path, "python -m evals")
    assert gate.check({"ours": {**STORED, "repeated_sentence_rate": 0.0}}, {"ours": "k"}, path) == []
    failures = gate.check({"ours": {**STORED, "repeated_sentence_rate": 0.05}}, {"ours": "k"}, path)
    assert failures == ["k: repeated_sentence_rate 0.050 rose more than 0.000 above the stored 0.000"]


def test_gate_without_stored_figures_is_an_error(tmp_path):
    with pytest.raises(gate.GateError, match="--save-baseline"):
        gate.check({"ours": STORED}, {"ours": "retrieval/qa/all"}, tmp_path / "none.json")


@pytest.mark.slow
def test_cli_check_exit_codes(tmp_path, capsys):
    """`python -m evals --check` exits 0 while the stored figures hold and 2 once one of them is out of reach."""
    from evals.__main__ import main

    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    stored = tmp_path / "baseline.json"
    common = ["--retrieval-only", "--limit", "3", "--quiet", "--baseline-file", str(stored), "--out", str(tmp_path / "out"),
              "--seeds-dir", str(tmp_path / "seeds"), "--index-dir", str(tmp_path / "index")]
    assert main([*common, "--save-baseline"]) == 0
    assert main([*common, "--check"]) == 0
    saved = json.loads(stored.read_text())
    (key,) = saved["gates"]
    saved["gates"][key]["tolerances"] = {"hit@5": {"min": 1.01}}  # a floor no run can reach
    stored.write_text(json.dumps(saved))
    assert main([*common, "--check"]) == 2
    assert "REGRESSION" in capsys.readouterr().err


# ---- progress log and --resume ------------------------------------------------------------------------------------
def _items(n: int) -> list[Item]:
    return [Item(id=f"q{i:03d}", question=f"question {i}", answers=["x"], sources=["a.txt"], quotes=["x"],
                 type="factoid", history=[]) for i in range(1, n + 1)]


def test_interrupted_run_keeps_finished_items_and_resume_asks_only_the_rest(tmp_path):
    items, asked = _items(5), []

    def ask(question, history):
        if question == "question 4":
            raise KeyboardInterrupt  # the run is stopped while answering the fourth item
        asked.append(question)
        return {"answer": question.upper(), "refused": False, "citations": []}

    log_path = tmp_path / "progress-ours-default.jsonl"
    with pytest.raises(KeyboardInterrupt):
        list(answer_records(ask, items, log=ProgressLog(log_path, resume=False), progress=False))
    assert [json.loads(line)["id"] for line in log_path.read_text().splitlines()] == ["q001", "q002", "q003"]
    with log_path.open("a") as handle:
        handle.write('{"id": "q004", "answ')  # a record torn by a kill -9 is not kept

    def ask_all(question, history):
        asked.append(question)
        return {"answer": question.upper(), "refused": False, "citations": []}

    asked.clear()
    resumed = list(answer_records(ask_all, items, log=ProgressLog(log_path, resume=True), progress=False))
    assert asked == ["question 4", "question 5"]
    assert [r["id"] for r in resumed] == ["q001", "q002", "q003", "q004", "q005"]
    assert [r["answer"] for r in resumed] == [f"QUESTION {i}" for i in range(1, 6)]
    assert len(log_path.read_text().splitlines()) == 5

    list(answer_records(ask_all, items, log=ProgressLog(log_path, resume=False), progress=False))
    assert len(asked) == 7  # without --resume every item is asked again


def test_ids_run_in_the_order_given_and_unknown_ids_are_an_error(tmp_path):
    from evals.__main__ import select
    from rag.errors import BadInputError

    order = tmp_path / "order.txt"
    order.write_text("q003\nq001\nq003\n")
    chosen, name = select(_items(5), str(order), None)
    assert [item.id for item in chosen] == ["q003", "q001"] and name == "order"
    assert [item.id for item in select(_items(5), "q005,q002", 1)[0]] == ["q005"]
    with pytest.raises(BadInputError, match="q009"):
        select(_items(5), "q001,q009", None)


def test_log_name_is_safe_for_a_server_url():
    assert log_name("http://127.0.0.1:8080/v1") == "http_127.0.0.1_8080_v1"
    assert log_name("default") == "default"


# ---- end to end with the real fast model ---------------------------------------------------------------------------
@pytest.mark.llm
def test_python_m_evals_end_to_end(tmp_path):
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "evals", "--limit", "2", "--model", "fast", "--quiet", "--out", str(out),
               "--seeds-dir", str(tmp_path / "seeds"), "--index-dir", str(tmp_path / "index")]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in lines] == ["q001", "q002"]
    assert {"answer", "refused", "citations", "retrieved", "grounding", "ttft_s", "total_s"} <= set(lines[0])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pipelines"]["ours"]["overall"]["n"] == 2
    assert (out / "report.html").read_text().count("data:image/png;base64,") >= 2
    assert (tmp_path / "index" / "chroma").is_dir()


@pytest.mark.llm
def test_python_m_evals_reports_how_the_decision_did_with_the_default_model(tmp_path):
    """q008 is answered by its passages, q082 is not: the run records each item's looks, the sufficiency probe's
    readings and the verdict, and reports the decision's figures beside the answers'."""
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "evals", "--ids", "q008,q082", "--model", "default", "--quiet",
               "--out", str(out), "--seeds-dir", str(tmp_path / "seeds"), "--index-dir", str(tmp_path / "index")]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == ["q008", "q082"]
    for record in records:
        decision = record["decision"]
        assert decision["fallback"] == "" and decision["verdict"] in ("answered", "unconfirmed", "refused")
        assert len(decision["readings"]) == decision["looks"] >= 1 and all(r is not None for r in decision["readings"])
    assert records[0]["decision"]["verdict"] == "answered" and records[1]["decision"]["verdict"] != "answered"
    overall = json.loads((out / "summary.json").read_text())["pipelines"]["ours"]["overall"]
    assert overall["n_read"] == 2 and overall["sufficiency_auc"] == 1.0 and overall["wrong_shown"] == 0
    assert "second look read" in (out / "report.html").read_text()
