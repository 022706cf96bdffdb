"""How well the probes on the model's states did on an eval run: each record's scores against its item.

Example: summarise_probes(items, records, texts)["overall"]
  -> {"n": 75, "probe_auc": 0.95, "probe_refusal_rate": 0.92, "probe_false_refusal_rate": 0.06,
      "probe_missing_refusal_rate": 0.5, "correctness_auc": 0.81, "sufficiency_threshold": 0.31}
probe_auc: the sufficiency probe's AUC for "the passages hold the gold answer" (answerable items whose passages
contain it) against "the documents don't say" (unanswerable items; one refused for want of relevant evidence counts
as scored 0). The rates are at the probe file's threshold: unanswerable items refused (by the evidence gate or the
probe), answerable items with the answer in their passages refused by the probe, and answerable items whose passages
miss the answer refused (the answer-missing case). correctness_auc: the correctness probe's AUC for right drafts
against wrong ones, over the drafts it scored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evals import metrics as m
from evals.dataset import Item


def probe(record: Mapping, name: str) -> dict:
    return ((record.get("judge") or {}).get("probes") or {}).get(name) or {}


def passages_text(record: Mapping, texts: Mapping[str, str]) -> str:
    return " ".join(texts.get(p["source"], "")[p["start"]:p["end"]] for p in record.get("passages") or [])


def score_probe(item: Item, record: Mapping, texts: Mapping[str, str]) -> dict:
    sufficiency, correctness = probe(record, "sufficiency"), probe(record, "correctness")
    asked = sufficiency.get("score") is not None
    return {"id": item.id, "answerable": item.answerable, "type": item.type, "split": item.split,
            "hit": item.answerable and m.contains_answer(passages_text(record, texts), item.answers),
            "asked": asked, "sufficiency": sufficiency.get("score") if asked else 0.0,
            "threshold": sufficiency.get("threshold"), "correctness": correctness.get("score"),
            "correct": right(item, record.get("draft") or ("" if record.get("refused") else record.get("answer", "")))}


def right(item: Item, text: str) -> bool:
    """The text holds the gold answer (every key-term group, for an item that has them), as evals.summary scores."""
    if not item.answerable or not text:
        return False
    return m.gives_answer(text, item.answers, item.key_terms)


def aggregate_probes(scores: Sequence[Mapping]) -> dict:
    asked = [s for s in scores if s["asked"]]
    out: dict = {"n": len(scores), "n_probed": len(asked)}
    if not asked:
        return out
    threshold = asked[0]["threshold"]
    clean = [s for s in scores if not s["answerable"] or s["hit"]]

    def refused(s):
        return not s["asked"] or s["sufficiency"] < threshold

    out["probe_auc"] = m.auc([s["sufficiency"] for s in clean], [int(s["answerable"]) for s in clean])
    out["probe_refusal_rate"] = m.rate([refused(s) for s in scores if not s["answerable"]])
    out["probe_false_refusal_rate"] = m.rate([refused(s) for s in scores if s["answerable"] and s["hit"]])
    out["probe_missing_refusal_rate"] = m.rate([refused(s) for s in scores if s["answerable"] and not s["hit"]])
    drafts = [s for s in asked if s["correctness"] is not None]
    if drafts:
        out["correctness_auc"] = m.auc([s["correctness"] for s in drafts], [int(s["correct"]) for s in drafts])
    out["sufficiency_threshold"] = threshold
    return out


def summarise_probes(items: Sequence[Item], records: Sequence[Mapping], texts: Mapping[str, str]) -> dict:
    by_id = {item.id: item for item in items}
    scores = [score_probe(by_id[r["id"]], r, texts) for r in records]
    return {"overall": aggregate_probes(scores), "scores": scores}
