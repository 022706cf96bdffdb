"""Score each result record against its eval item, then aggregate the scores overall and per question type.

Example: summarise_answers(items, records, texts)["overall"] ->
  {"n": 16, "accuracy": 0.625, "accuracy_ci": [0.386, 0.815], "refusal_rate": 1.0, "crag_score": 0.375, ...}
Accuracy counts an answerable item right when it was not refused and its answer contains a gold answer, or, for an
item with key terms, every key-term group; an unanswerable item is right when it was refused. answer_accuracy is
the first half alone, containment_accuracy the same half judged by gold-answer containment only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from evals import metrics as m
from evals import presence
from evals.dataset import Item
from evals.decision_summary import summarise_decisions

HIT_KS = (1, 3, 5)


def score_answer(item: Item, record: Mapping, texts: Mapping[str, str]) -> dict:
    """Per-item scores of one answer record (see evals.metrics for each figure)."""
    refused = bool(record.get("refused"))
    answer = record.get("answer") or ""
    answered = item.answerable and not refused
    contained = answered and m.contains_answer(answer, item.answers)
    recall = (m.key_term_recall(answer, item.key_terms) if answered else 0.0) if item.key_terms else None
    correct = answered and m.gives_answer(answer, item.answers, item.key_terms)
    citations = record.get("citations") or []
    cited = [c.get("source") for c in citations]
    retrieved = record.get("retrieved") or []
    return {
        "id": item.id, "type": item.type, "split": item.split, "answerable": item.answerable, "refused": refused,
        "correct": correct, "contained": contained, "key_term_recall": recall,
        "accurate": correct if item.answerable else refused,
        "f1": (m.token_f1(answer, item.answers) if answered else 0.0) if item.answerable else None,
        "repeated": m.has_repeated_sentence(answer) if not refused else None,
        "crag": m.crag_score(item.answerable, correct, refused),
        "citation_precision": m.citation_precision(cited, item.sources) if answered else None,
        "citation_recall": m.citation_recall(cited, item.sources) if answered else None,
        "quotes_exact": [m.quote_is_exact(c, texts) for c in citations],
        "grounding": record.get("grounding") if not refused else None,
        **{f"hit@{k}": m.hit_at_k(retrieved, item.sources, k) if item.answerable else None for k in HIT_KS},
        "rr": m.reciprocal_rank(retrieved, item.sources) if item.answerable else None,
        "ttft_s": record.get("ttft_s"), "total_s": record.get("total_s"), "prompt_tokens": record.get("prompt_tokens"),
        "error": bool(record.get("error")),
    }


def _proportion(out: dict, name: str, flags: Sequence[bool]) -> None:
    out[name] = m.rate(flags)
    out[name + "_ci"] = list(m.wilson_interval(sum(flags), len(flags))) if flags else None


def aggregate_answers(scores: Sequence[Mapping]) -> dict:
    """The answer-pass figures of a group of scored items."""
    answerable = [s for s in scores if s["answerable"]]
    unanswerable = [s for s in scores if not s["answerable"]]
    out: dict = {"n": len(scores), "n_answerable": len(answerable), "n_unanswerable": len(unanswerable)}
    _proportion(out, "accuracy", [s["accurate"] for s in scores])
    _proportion(out, "answer_accuracy", [s["correct"] for s in answerable])
    out["containment_accuracy"] = m.rate([s["contained"] for s in answerable])
    out["key_term_recall"] = m.mean(s["key_term_recall"] for s in answerable)
    out["token_f1"] = m.mean(s["f1"] for s in answerable)
    _proportion(out, "refusal_rate", [s["refused"] for s in unanswerable])
    _proportion(out, "false_refusal_rate", [s["refused"] for s in answerable])
    # what a user is misled by: an answerable question answered wrong, or an unanswerable one answered
    out["wrong_shown"] = sum(not s["refused"] and not s["accurate"] for s in scores)
    _proportion(out, "wrong_shown_rate", [not s["refused"] and not s["accurate"] for s in scores])
    out["crag_score"] = m.mean(s["crag"] for s in scores)
    out["citation_precision"] = m.mean(s["citation_precision"] for s in scores)
    out["citation_recall"] = m.mean(s["citation_recall"] for s in scores)
    quotes = [flag for s in scores for flag in s["quotes_exact"]]
    out["citations"] = len(quotes)
    out["quote_exactness"] = m.rate(quotes)
    out["mean_grounding"] = m.mean(s["grounding"] for s in scores)
    out["repeated_sentence_rate"] = m.rate([s["repeated"] for s in scores if s["repeated"] is not None])
    for k in HIT_KS:
        out[f"hit@{k}"] = m.rate([s[f"hit@{k}"] for s in answerable])
    out["mrr"] = m.mean(s["rr"] for s in answerable)
    for name in ("ttft", "total"):
        out[f"{name}_p50_s"] = m.percentile((s[f"{name}_s"] for s in scores), 0.5)
        out[f"{name}_p95_s"] = m.percentile((s[f"{name}_s"] for s in scores), 0.95)
    out["prompt_tokens_mean"] = m.mean(s["prompt_tokens"] for s in scores)
    out["errors"] = sum(s["error"] for s in scores)
    return out


def overlaps(evidence: Mapping, spans: Sequence[tuple[str, int, int]]) -> bool:
    """True when an evidence span shares characters with a gold quote span of the same source."""
    return any(evidence["source"] == s and evidence["start"] < e and b < evidence["end"] for s, b, e in spans)


def score_retrieval(item: Item, record: Mapping, spans: Sequence[tuple[str, int, int]], min_score: float) -> dict:
    """Per-item retrieval scores: source hits, evidence overlap with a gold quote, where the answer is on its way to
    the model (evals.presence: the chunks, the ranked passages, the first look, both looks), and whether the engine's
    evidence gate (best evidence score below min_score) would refuse before asking the model."""
    retrieved, evidence = record.get("retrieved") or [], record.get("evidence") or []
    looks = record.get("looks") or []
    shown = evidence[:looks[-1]] if looks else []
    target = presence.Target(item.id, item.question, tuple(item.answers), tuple(map(tuple, item.key_terms)))
    pieces = [(e["source"], e["start"], e["end"], f"{e.get('header', '')}\n{e['text']}") for e in evidence]
    found = presence.stage_presence(target, [(c["source"], 0, 0, c["text"]) for c in record.get("chunks") or []],
                                    pieces, [pieces[:n] for n in looks]) if item.answerable else {}
    return {
        "id": item.id, "type": item.type, "split": item.split, "answerable": item.answerable,
        **{f"hit@{k}": m.hit_at_k(retrieved, item.sources, k) if item.answerable else None for k in HIT_KS},
        "rr": m.reciprocal_rank(retrieved, item.sources) if item.answerable else None,
        "evidence_hit": any(overlaps(e, spans) for e in shown) if item.answerable else None,
        **{f"presence_{stage}": found.get(stage) for stage in presence.STAGES},
        "gated": not evidence or max(e["score"] for e in evidence) < min_score,
        "retrieval_s": record.get("retrieval_s"),
    }


def aggregate_retrieval(scores: Sequence[Mapping]) -> dict:
    """The retrieval-pass figures of a group of scored items (hit@k, MRR and evidence hit on answerable items)."""
    answerable = [s for s in scores if s["answerable"]]
    unanswerable = [s for s in scores if not s["answerable"]]
    out: dict = {"n": len(scores), "n_answerable": len(answerable), "n_unanswerable": len(unanswerable)}
    for k in HIT_KS:
        _proportion(out, f"hit@{k}", [s[f"hit@{k}"] for s in answerable])
    out["mrr"] = m.mean(s["rr"] for s in answerable)
    _proportion(out, "evidence_hit", [s["evidence_hit"] for s in answerable])
    for stage in presence.STAGES:
        if any(s.get(f"presence_{stage}") is not None for s in answerable):
            _proportion(out, f"presence_{stage}", [bool(s[f"presence_{stage}"]) for s in answerable])
    _proportion(out, "gate_refusal_rate", [s["gated"] for s in unanswerable])
    _proportion(out, "gate_false_refusal_rate", [s["gated"] for s in answerable])
    out["retrieval_p50_s"] = m.percentile((s["retrieval_s"] for s in scores), 0.5)
    out["retrieval_p95_s"] = m.percentile((s["retrieval_s"] for s in scores), 0.95)
    return out


def by_type(scores: Sequence[Mapping], aggregate, key: str = "type") -> dict[str, dict]:
    """aggregate() applied to each question type (or other per-item field), in first-seen order."""
    groups = list(dict.fromkeys(s[key] for s in scores))
    return {g: aggregate([s for s in scores if s[key] == g]) for g in groups}


def summarise_answers(items: Sequence[Item], records: Sequence[Mapping], texts: Mapping[str, str]) -> dict:
    """{"overall": figures, "by_type": {type: figures}, "by_split": {"dev"|"heldout": figures}, "scores": per-item
    scores} for one pipeline's records."""
    by_id = {item.id: item for item in items}
    scores = [score_answer(by_id[r["id"]], r, texts) for r in records]
    overall = aggregate_answers(scores)
    overall |= summarise_decisions(items, records, texts)  # how the decision did: readings, looks, confirmation
    return {"overall": overall, "by_type": by_type(scores, aggregate_answers),
            "by_split": by_type(scores, aggregate_answers, "split"), "scores": scores}


def summarise_retrieval(items: Sequence[Item], records: Sequence[Mapping],
                        spans: Mapping[str, list], min_score: float) -> dict:
    """The same shape as summarise_answers, for a retrieval-only pass (spans: item id -> gold quote spans)."""
    by_id = {item.id: item for item in items}
    scores = [score_retrieval(by_id[r["id"]], r, spans[r["id"]], min_score) for r in records]
    return {"overall": aggregate_retrieval(scores), "by_type": by_type(scores, aggregate_retrieval),
            "by_split": by_type(scores, aggregate_retrieval, "split"), "scores": scores}
