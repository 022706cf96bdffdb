"""How the decision did on an eval run (rag/answer/decide.py): each record's looks, readings and verdict against its
item.

Example: summarise_decisions(items, records, texts)
  -> {"n_read": 73, "sufficiency_auc": 0.91, "second_look_rate": 0.34, "pre_draft_refusals": 6,
      "pre_draft_precision": 1.0, "unconfirmed_rate": 0.08, "confirmation_auc": 0.83, "right_when_present": 0.81}
sufficiency_auc: the first look's reading for "its passages hold the gold answer" (answerable items) against "the
documents don't say" (unanswerable items). pre_draft_precision: the share of refusals before drafting made on an
unanswerable item or one whose passages miss the answer (a refusal that cost no right answer the passages held).
confirmation_auc: the confirmation's confidence for right drafts against wrong ones. right_when_present: how often
the draft is right when the passages it was written from hold the answer (the model reading what it is given).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evals import metrics as m
from evals.dataset import Item


def passages_text(record: Mapping, texts: Mapping[str, str]) -> str:
    return " ".join(texts.get(p["source"], "")[p["start"]:p["end"]] for p in record.get("passages") or [])


def score_decision(item: Item, record: Mapping, texts: Mapping[str, str]) -> dict:
    decision = record.get("decision") or {}
    readings = decision.get("readings") or []
    draft = record.get("draft") or ("" if record.get("refused") else record.get("answer", ""))
    return {"answerable": item.answerable, "read": bool(readings) and readings[0] is not None,
            "first": readings[0] if readings else None, "looks": decision.get("looks", 0),
            "present": item.answerable and m.gives_answer(passages_text(record, texts), item.answers, item.key_terms),
            "verdict": decision.get("verdict"), "rung": decision.get("rung"),
            "confidence": (decision.get("signals") or {}).get("confidence"),
            "drafted": bool(draft), "right": item.answerable and bool(draft) and m.gives_answer(draft, item.answers,
                                                                                                 item.key_terms)}


def aggregate_decisions(scores: Sequence[Mapping]) -> dict:
    read = [s for s in scores if s["read"]]
    out: dict = {"n_read": len(read)}
    if not read:
        return out
    clean = [s for s in read if not s["answerable"] or s["present"]]
    out["sufficiency_auc"] = m.auc([s["first"] for s in clean], [int(s["answerable"]) for s in clean])
    out["second_look_rate"] = m.rate([s["looks"] == 2 for s in read])
    pre = [s for s in scores if s["rung"] == "sufficiency"]
    out["pre_draft_refusals"] = len(pre)
    out["pre_draft_precision"] = m.rate([not s["answerable"] or not s["present"] for s in pre]) if pre else None
    out["unconfirmed_rate"] = m.rate([s["verdict"] == "unconfirmed" for s in scores])
    scored = [s for s in scores if s["drafted"] and s["confidence"] is not None]
    out["confirmation_auc"] = m.auc([s["confidence"] for s in scored], [int(s["right"]) for s in scored])
    present = [s for s in scores if s["drafted"] and s["present"]]
    out["right_when_present"] = m.rate([s["right"] for s in present]) if present else None
    return out


def summarise_decisions(items: Sequence[Item], records: Sequence[Mapping], texts: Mapping[str, str]) -> dict:
    by_id = {item.id: item for item in items}
    return aggregate_decisions([score_decision(by_id[r["id"]], r, texts) for r in records])
