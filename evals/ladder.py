"""The engine's decision ladder (rag/answer/ladder.py) replayed on recorded drafts: thresholds and judges compared
without running the model again.

Example: decisions = [decide(r, Ladder(0.3, 0.4)).decision for r in records]
         figures(records, decisions) -> {"n": 52, "refusal": 1.0, "false_refusal": 0.05, "right_withheld": 0.02,
                                         "accuracy": 0.81, "wrong_shown": 3}
A record is one eval item as training.probe_states keeps it: whether it is answerable, whether its draft is right,
the rules' reasons and (added by the caller) the probes' scores.
"""

from __future__ import annotations


def figures(records: list[dict], decisions: list[str]) -> dict:
    """Refusal on unanswerable items, false refusal on answerable ones (of them, right drafts withheld, as a share of
    the answerable items), accuracy (a right draft shown, or an unanswerable item refused) and wrong answers shown (a
    wrong draft shown, or an unanswerable item answered)."""
    answerable = [(r, d) for r, d in zip(records, decisions) if r["answerable"]]
    unanswerable = [(r, d) for r, d in zip(records, decisions) if not r["answerable"]]
    right = sum(d == "shown" and r["correct"] for r, d in answerable) + sum(d != "shown" for _, d in unanswerable)
    wrong = sum(d == "shown" and not r["correct"] for r, d in answerable) + sum(d == "shown" for _, d in unanswerable)
    return {"n": len(records),
            "refusal": _rate(sum(d != "shown" for _, d in unanswerable), len(unanswerable)),
            "false_refusal": _rate(sum(d != "shown" for _, d in answerable), len(answerable)),
            "right_withheld": _rate(sum(d != "shown" and r["correct"] for r, d in answerable), len(answerable)),
            "accuracy": _rate(right, len(records)), "wrong_shown": wrong}


def _rate(count: int, total: int) -> float | None:
    return round(count / total, 3) if total else None
