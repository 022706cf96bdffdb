"""Evidence ranked by the trained judge: the passages retrieval selected are scored for whether they answer the
question, best first, then cut to the evidence budget.

Example: rerank("Which port does tinc listen on?", [E("... PingTimeout ...", 0.71), E("Port = <port> (655)", 0.66)],
                judge, k=5, budget_chars=960)
  -> [E("Port = <port> (655)", answer_score=0.94), E("... PingTimeout ...", answer_score=0.03)]
The pool retrieval hands over is larger than what the prompt takes (POOL_FACTOR), so a passage the judge prefers
can come from below the cut that the retrieval score alone would make.
"""

from __future__ import annotations

from dataclasses import replace

from rag.search.evidence import Evidence
from rag.text import passage_input

POOL_FACTOR = 2  # passages and characters retrieval selects for the judge, against what the prompt takes


def within_budget(evidence: list[Evidence], k: int, budget_chars: int | None) -> list[Evidence]:
    """The first k passages (in the order given) whose texts fit budget_chars; the first always, a later one that
    does not fit is skipped for a shorter one after it."""
    kept, used = [], 0
    for item in evidence:
        if budget_chars is not None and kept and used + len(item.text) > budget_chars:
            continue
        kept.append(item)
        used += len(item.text)
        if len(kept) >= k:
            break
    return kept


def judged(question: str, evidence: list[Evidence], judge) -> list[Evidence]:
    """The passages, in the order given, each with the judge's score that it answers the question."""
    scores = judge.answers(question, [passage_input(item.header(), item.text) for item in evidence])
    return [replace(item, answer_score=round(score, 4)) for item, score in zip(evidence, scores)]


def rerank(question: str, evidence: list[Evidence], judge, k: int, budget_chars: int | None) -> list[Evidence]:
    """Score every passage with the judge, order them by that score (retrieval's order breaks ties), keep k in the
    budget."""
    scored = judged(question, evidence, judge)
    ranked = sorted(enumerate(scored), key=lambda pair: (-pair[1].answer_score, pair[0]))
    return within_budget([item for _, item in ranked], k, budget_chars)
