"""The eval figures of the probes (evals/probe_summary.py) and the ladder replayed on recorded items
(evals/ladder.py), on hand-made records whose right figures are known."""

from __future__ import annotations

import pytest

from evals.dataset import Item
from evals.gate import gate_key
from evals.ladder import figures
from evals.probe_summary import summarise_probes
from rag.answer.ladder import Ladder, decide

TEXTS = {"a.txt": "The port is 655. The cipher is aes-256-cbc.", "b.txt": "Nothing about ports here."}


def item(id_, answers, split="dev"):
    return Item(id=id_, question=f"{id_}?", answers=answers, sources=["a.txt"], quotes=[], type="factoid", split=split)


def record(id_, score, source="a.txt", correctness=None, draft="", threshold=0.5):
    probes = {} if score is None else {"sufficiency": {"score": score, "threshold": threshold},
                                       "correctness": {"score": correctness, "threshold": 0.5}}
    return {"id": id_, "passages": [{"source": source, "start": 0, "end": len(TEXTS[source])}],
            "judge": {"probes": probes}, "draft": draft, "answer": draft, "refused": not draft}


def test_probe_figures_at_the_threshold():
    items = [item("u1", []), item("u2", []), item("u3", []), item("a1", ["655"]), item("a2", ["aes-256-cbc"]),
             item("m1", ["1987"])]
    records = [record("u1", 0.1), record("u2", None), record("u3", 0.7), record("a1", 0.9, correctness=0.8,
               draft="Port 655 [1]."), record("a2", 0.4, correctness=0.3, draft="It uses blowfish."),
               record("m1", 0.2, source="b.txt")]
    overall = summarise_probes(items, records, TEXTS)["overall"]
    # clean pairs: a1 0.9 and a2 0.4 against u1 0.1, u2 0.0 (never asked) and u3 0.7 -> 5 of 6 orderings right
    assert overall["probe_auc"] == pytest.approx(5 / 6)
    assert overall["probe_refusal_rate"] == pytest.approx(2 / 3)  # u1 below, u2 not asked; u3 answered
    assert overall["probe_false_refusal_rate"] == 0.5  # a2 holds its answer but scored 0.4
    assert overall["probe_missing_refusal_rate"] == 1.0  # m1's passages miss 1987, and it was refused
    assert overall["correctness_auc"] == 1.0 and overall["n_probed"] == 5 and overall["sufficiency_threshold"] == 0.5


def test_a_run_without_probes_has_no_probe_figures():
    overall = summarise_probes([item("a1", ["655"])], [record("a1", None)], TEXTS)["overall"]
    assert overall == {"n": 1, "n_probed": 0}


def test_ladder_figures_count_wrong_answers_shown_and_right_refusals():
    records = [{"answerable": True, "correct": True, "sufficiency": 0.9, "correctness": 0.9},
               {"answerable": True, "correct": False, "sufficiency": 0.9, "correctness": 0.1},
               {"answerable": True, "correct": False, "sufficiency": 0.9, "correctness": 0.9},
               {"answerable": False, "correct": False, "sufficiency": 0.2, "correctness": 0.9},
               {"answerable": False, "correct": False, "sufficiency": 0.8, "correctness": 0.9}]
    decisions = [decide(r, Ladder(0.5, 0.5, frozenset())).decision for r in records]
    assert decisions == ["shown", "withheld", "shown", "refused", "shown"]
    assert figures(records, decisions) == {"n": 5, "refusal": 0.5, "false_refusal": 0.333, "right_withheld": 0.0,
                                           "accuracy": 0.4, "wrong_shown": 2}


def test_gate_keys_name_the_kind_of_run():
    from pathlib import Path

    assert gate_key("probes", "ours", "default", Path("evals/docs_qa.jsonl"), "all") == "probes/default/docs_qa/all"
    assert gate_key("retrieval", "ours", "fast", Path("evals/qa.jsonl"), "all") == "retrieval/qa/all"
    assert gate_key("answers", "ours", "fast", Path("evals/qa.jsonl"), "subset_ci") == "answers/ours/fast/qa/subset_ci"
