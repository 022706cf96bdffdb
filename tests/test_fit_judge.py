"""evals/fit_judge.py on made-up signals over the real eval set's items: a signal that separates right drafts from
wrong ones is chosen and judged on the heldout items; noise loses to the rules, and the stored choice then leaves the
engine with its rules."""

from __future__ import annotations

import json
import random
from pathlib import Path

from evals import fit_judge
from evals.dataset import load_items
from rag.answer.judge import load_weights

QA = Path(__file__).resolve().parents[1] / "evals" / "qa.jsonl"


def make_run(tmp_path: Path, signal) -> Path:
    """A run folder whose drafts contain the gold answer when answerable; signal(item) gives its sufficiency."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({"run": {"dataset": str(QA)}}), encoding="utf-8")
    lines = []
    for item in load_items(QA):
        draft = f"It was {item.answers[0]} [1]." if item.answerable else "It was on a Tuesday [1]."
        signals = {"grounding": 1.0, "evidence_score": 0.6, "sufficiency": signal(item), "answer_check": 0.95,
                   "mean_logprob": -0.2, "min_logprob": -1.0}
        lines.append(json.dumps({"id": item.id, "draft": draft, "answer": draft, "refused": False,
                                 "judge": {"signals": signals, "reasons": []}}))
    (run / "progress-ours-default.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return run


def test_a_separating_signal_is_chosen_and_judged_on_the_heldout_items(tmp_path):
    run = make_run(tmp_path, lambda item: 0.9 if item.answerable else 0.2)
    saved = tmp_path / "weights.json"
    assert fit_judge.main([str(run), "--save", str(saved)]) == 0
    report = json.loads(saved.read_text(encoding="utf-8"))
    assert report["chosen"] != "rules" and "sufficiency" in report["features"]
    assert report["heldout"]["accuracy"] == 1.0 and report["heldout"]["refusal_on_unanswerable"] == 1.0
    assert report["candidates"]["rules"]["refusal_on_unanswerable"] == 0.0  # every draft was supported
    load_weights.cache_clear()
    assert load_weights(saved)["threshold"] == report["threshold"]


def test_noise_loses_to_the_rules_and_leaves_no_combination(tmp_path):
    rng = random.Random(0)
    run = make_run(tmp_path, lambda item: rng.random())
    saved = tmp_path / "weights.json"
    assert fit_judge.main([str(run), "--save", str(saved)]) == 0
    report = json.loads(saved.read_text(encoding="utf-8"))
    assert report["chosen"] == "rules" and "features" not in report
    load_weights.cache_clear()
    assert load_weights(saved) is None
