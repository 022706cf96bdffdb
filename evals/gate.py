"""The regression gate: a fresh run's figures against those stored in evals/baseline.json, within stated tolerances.

Example: compare({"hit@5": 0.95, "n": 88}, {"figures": {"hit@5": 0.989, "n": 88}}) ->
  ["hit@5 0.950 fell more than 0.020 below the stored 0.989"]
The file holds one entry per kind of run (its gate key, e.g. "retrieval/qa/all" or "answers/ours/fast/qa/subset_ci"):
the stored figures and, optionally, tolerances overriding DEFAULT_TOLERANCES for that run. Latency is reported but
not gated: on shared CPUs it varies far more than any tolerance worth having. A figure the stored entry lacks (one
added to DEFAULT_TOLERANCES after it was saved, such as repeated_sentence_rate) is skipped until --save-baseline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from rag.errors import RagError

# higher is better unless the rule says max_rise; "min" is an absolute floor
DEFAULT_TOLERANCES: dict[str, dict[str, float]] = {
    "accuracy": {"max_drop": 0.05}, "answer_accuracy": {"max_drop": 0.05}, "crag_score": {"max_drop": 0.1},
    "refusal_rate": {"max_drop": 0.1}, "false_refusal_rate": {"max_rise": 0.1},
    "citation_precision": {"max_drop": 0.1}, "citation_recall": {"max_drop": 0.1}, "quote_exactness": {"min": 1.0},
    "mean_grounding": {"max_drop": 0.1}, "repeated_sentence_rate": {"max_rise": 0.0},
    "hit@1": {"max_drop": 0.03}, "hit@5": {"max_drop": 0.02}, "mrr": {"max_drop": 0.02},
    "evidence_hit": {"max_drop": 0.03}, "gate_refusal_rate": {"max_drop": 0.1},
    "gate_false_refusal_rate": {"max_rise": 0.05}, "presence_first_look": {"max_drop": 0.03},
    "presence_looks": {"max_drop": 0.03},
    "sufficiency_auc": {"max_drop": 0.05}, "confirmation_auc": {"max_drop": 0.05}, "wrong_shown_rate": {"max_rise": 0.05},
}
EPSILON = 1e-9  # stored figures are rounded floats


class GateError(RagError):
    """The gate cannot run: no stored figures for this kind of run, or an unreadable baseline file."""


def gate_key(kind: str, pipeline: str, model: str, dataset: Path, selection: str) -> str:
    """kind: "retrieval" or "answers".
    Example: gate_key("answers", "ours", "fast", Path("evals/qa.jsonl"), "subset_ci") -> "answers/ours/fast/qa/subset_ci"
             gate_key("retrieval", "ours", "default", Path("evals/docs_qa.jsonl"), "all") -> "retrieval/docs_qa/all" """
    if kind == "retrieval":
        return f"retrieval/{dataset.stem}/{selection}"
    return f"answers/{pipeline}/{model}/{dataset.stem}/{selection}"


def load_baseline(path: Path) -> dict:
    if not path.is_file():
        return {"gates": {}}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise GateError(f"{path} is not valid JSON ({exc}); restore it from git or re-create it with "
                        "--save-baseline") from None


def compare(figures: Mapping, gate: Mapping) -> list[str]:
    """Every tracked figure that got worse than its stored value by more than its tolerance."""
    stored = gate["figures"]
    if figures.get("n") != stored.get("n"):
        return [f"the run has {figures.get('n')} items, the stored figures {stored.get('n')}: not comparable"]
    failures = []
    for metric, rule in {**DEFAULT_TOLERANCES, **gate.get("tolerances", {})}.items():
        before, now = stored.get(metric), figures.get(metric)
        if before is None:
            continue
        if now is None:
            failures.append(f"{metric} is missing (stored {before:.3f})")
        elif "min" in rule and now < rule["min"] - EPSILON:
            failures.append(f"{metric} {now:.3f} is below the floor {rule['min']:.3f}")
        elif "max_drop" in rule and now < before - rule["max_drop"] - EPSILON:
            failures.append(f"{metric} {now:.3f} fell more than {rule['max_drop']:.3f} below the stored {before:.3f}")
        elif "max_rise" in rule and now > before + rule["max_rise"] + EPSILON:
            failures.append(f"{metric} {now:.3f} rose more than {rule['max_rise']:.3f} above the stored {before:.3f}")
    return failures


def check(overalls: Mapping[str, Mapping], keys: Mapping[str, str], path: Path) -> list[str]:
    """Compare each pipeline's figures with its stored gate entry (pipelines without one are not gated)."""
    gates = load_baseline(path).get("gates", {})
    checked = {name: key for name, key in keys.items() if key in gates}
    if not checked:
        raise GateError(f"{path} has no stored figures for {', '.join(keys.values())} (it has: "
                        f"{', '.join(gates) or 'none'}); run once with --save-baseline to store them")
    return [f"{key}: {failure}" for name, key in checked.items() for failure in compare(overalls[name], gates[key])]


def save(overalls: Mapping[str, Mapping], keys: Mapping[str, str], path: Path, command: str) -> None:
    """Store the tracked figures of each pipeline under its gate key, keeping other entries and tolerances."""
    baseline = load_baseline(path)
    gates = baseline.setdefault("gates", {})
    for name, key in keys.items():
        tracked = {"n", *DEFAULT_TOLERANCES, *gates.get(key, {}).get("tolerances", {})}
        entry = gates.setdefault(key, {})
        entry["command"] = command
        entry["figures"] = {k: (round(v, 4) if isinstance(v, float) else v)
                            for k, v in overalls[name].items() if k in tracked and v is not None}
    path.write_text(json.dumps(baseline, indent=2, sort_keys=True) + "\n", encoding="utf-8")
