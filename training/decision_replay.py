"""The engine's decision replayed on recorded questions (training/look_states.py): what a user would have been shown
under a policy (when to read the second look, when to refuse before drafting, when to show a draft), per corpus.

Example: replay(questions, scores, Policy(second_look=0.5, refuse=None, show=0.3))
  -> {"docs": {"n": 52, "right_shown": 0.62, "unanswerable_refused": 0.89, "wrong_shown": 0.08, ...}, ...,
      "_mean": {...}, "_worst": {...}}
scores: {"suff": {(corpus, id, look): P(the look holds the answer)}, "confidence": {(corpus, id, look): P(the draft
is right)}}, each from a fit that did not see the question's corpus.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from training.decision_data import Question

MIN_EVIDENCE_SCORE = 0.39  # rag/answer/engine.py: below it nothing is asked
MIN_PRECISION = 0.95  # a refusal before drafting is kept only this precise out of corpus
MAX_WRONG, MIN_REFUSED = 0.10, 0.85  # the targets, as constraints on the mean over held-out corpora
# a second look costs its passages' reading (~3 s here): read by at most this share, so that the median answered
# question still reads one look and first token p50 stays where it was
MAX_SECOND_LOOK = 0.4
MIN_REPORTED = 10  # the worst corpus is named among corpora with at least this many questions
FIGURES = ("n", "right_shown", "unanswerable_refused", "wrong_shown", "second_look", "pre_refused",
           "pre_precision", "right_when_present")
ALWAYS = ("empty generation", "no answer sentence")


@dataclass(frozen=True)
class Policy:
    second_look: float | None  # read the second look when the first's sufficiency is below this
    refuse: float | None  # refuse before drafting when the last look's sufficiency is below this
    show: float | None  # show a draft when its confidence is at least this


def outcome(q: Question, scores: dict, policy: Policy) -> dict:
    """What the user sees for one question under the policy."""
    first = q.looks[1]
    if q.refused_early or first.get("relevance", 1.0) < MIN_EVIDENCE_SCORE:
        return {"shown": False, "right": False, "pre": False, "read": 0, "look": None}
    has_second = 2 in q.looks and policy.second_look is not None
    look, read = 1, 1
    s1 = scores["suff"].get((q.corpus, q.id, 1), 1.0)
    if has_second and s1 < policy.second_look:
        look, read = 2, 2
    last_score = scores["suff"].get((q.corpus, q.id, look), 1.0)
    if (look == 2 or not has_second) and policy.refuse is not None and last_score < policy.refuse:
        return {"shown": False, "right": False, "pre": True, "read": read, "look": look,
                "would_be_right": bool(q.looks[look].get("correct"))}
    record = q.looks[look]
    if not record.get("draft") or any(a in r for r in record.get("reasons", []) for a in ALWAYS):
        return {"shown": False, "right": False, "pre": False, "read": read, "look": look}
    confidence = scores["confidence"].get((q.corpus, q.id, look), 1.0)
    shown = policy.show is None or confidence >= policy.show
    return {"shown": shown, "right": shown and bool(record.get("correct")), "pre": False, "read": read, "look": look,
            "present": bool(record.get("present")), "draft_right": bool(record.get("correct"))}


def figures(questions: list[Question], results: list[dict]) -> dict:
    answerable = [r for q, r in zip(questions, results) if q.answerable]
    unanswerable = [r for q, r in zip(questions, results) if not q.answerable]
    pre = [r for r in results if r["pre"]]
    present = [r for r in results if r.get("present")]
    return {"n": len(results), "n_answerable": len(answerable), "n_unanswerable": len(unanswerable),
            "right_shown": np.mean([r["right"] for r in answerable]) if answerable else None,
            "unanswerable_refused": np.mean([not r["shown"] for r in unanswerable]) if unanswerable else None,
            "wrong_shown": np.mean([r["shown"] and not r["right"] for r in results]) if results else None,
            "second_look": np.mean([r["read"] == 2 for r in results]) if results else None,
            "pre_refused": len(pre),
            "pre_precision": np.mean([not r["would_be_right"] for r in pre]) if pre else None,
            "right_when_present": np.mean([r["draft_right"] for r in present]) if present else None}


def replay(questions: list[Question], scores: dict, policy: Policy) -> dict:
    """Figures per corpus, pooled, and the mean and worst over corpora."""
    results = [outcome(q, scores, policy) for q in questions]
    by_corpus = defaultdict(list)
    for q, r in zip(questions, results):
        by_corpus[q.corpus].append((q, r))
    out = {c: figures([q for q, _ in rows], [r for _, r in rows]) for c, rows in sorted(by_corpus.items())}
    corpora = dict(out)
    out["_pooled"] = figures(questions, results)
    out["_mean"], out["_worst"] = {}, {}
    sizable = {c: f for c, f in corpora.items() if f["n"] >= MIN_REPORTED}
    for name in FIGURES[1:]:
        values = {c: f[name] for c, f in corpora.items() if f[name] is not None}
        if not values or name == "pre_refused":
            continue
        out["_mean"][name] = float(np.mean(list(values.values())))
        pick = max if name in ("wrong_shown", "second_look") else min
        candidates = {c: f[name] for c, f in sizable.items() if f[name] is not None} or values
        worst = pick(candidates, key=candidates.get)
        out["_worst"][name] = (worst, candidates[worst])
    return out


def _grid(start: float, stop: float, step: float) -> list[float]:
    return [round(x, 3) for x in np.arange(start, stop + 1e-9, step)]


def choose(questions: list[Question], scores: dict, seconds: list | None = None) -> Policy:
    """The policy with the most right answers shown, averaged over corpora (the issue's targets are means over the
    held-out corpora), among those that show at most MAX_WRONG wrong answers and refuse at least MIN_REFUSED of the
    unanswerable questions on that average, read the second look for at most MAX_SECOND_LOOK of the questions and
    refuse before drafting only at MIN_PRECISION, pooled (fewer second looks break ties); without a feasible one, the
    best right - 2 x wrong. seconds: the second-look thresholds tried (default: none, and 0.1 to 0.9)."""
    best, fallback = None, None
    for second in [None, *_grid(0.1, 0.9, 0.05)] if seconds is None else seconds:
        for refuse in [None, *_grid(0.02, 0.5, 0.04)]:
            for show in _grid(0.05, 0.9, 0.05):
                policy = Policy(second, refuse, show)
                found = replay(questions, scores, policy)
                f, mean = found["_pooled"], found["_mean"]
                key = (round(mean["right_shown"], 4), -round(f["second_look"], 4))
                refused = mean.get("unanswerable_refused", 1.0)
                allowed = f["second_look"] <= MAX_SECOND_LOOK and \
                    (f["pre_precision"] is None or f["pre_precision"] >= MIN_PRECISION)
                if allowed and mean["wrong_shown"] <= MAX_WRONG and refused >= MIN_REFUSED and \
                        (best is None or key > best[0]):
                    best = (key, policy)
                loose = (round(mean["right_shown"] - 2 * mean["wrong_shown"], 4), key)
                if allowed and (fallback is None or loose > fallback[0]):
                    fallback = (loose, policy)
    return (best or fallback)[1]


def compared(questions: list[Question], scores: dict, chosen: Policy) -> list[str]:
    """The chosen policy beside what else could be shipped, on the same out-of-corpus scores."""
    with_second = choose(questions, scores, _grid(0.1, 0.9, 0.05))
    policies = [("every draft shown (no decision)", Policy(None, None, None)),
                ("chosen", chosen),
                ("the best that reads a second look", with_second),
                ("the second look for every question", Policy(1.01, None, chosen.show))]
    lines = ["| policy | second look / refuse / show | right_shown pooled | mean | worst | unanswerable_refused | "
             "wrong_shown | second_look |", "|---|---|---|---|---|---|---|---|"]
    for name, policy in policies:
        f = replay(questions, scores, policy)
        lines.append(f"| {name} | {policy.second_look} / {policy.refuse} / {policy.show} | "
                     f"{fmt(f['_pooled']['right_shown'])} | {fmt(f['_mean']['right_shown'])} | "
                     f"{fmt(f['_worst']['right_shown'])} | {fmt(f['_pooled']['unanswerable_refused'])} | "
                     f"{fmt(f['_pooled']['wrong_shown'])} | {fmt(f['_pooled']['second_look'])} |")
    return lines


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple):
        return f"{value[1]:.3f} ({value[0]})"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def table(replayed: dict, names=FIGURES) -> list[str]:
    lines = ["| corpus | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for corpus, f in replayed.items():
        lines.append(f"| {corpus} | " + " | ".join(fmt(f.get(n)) for n in names) + " |")
    return lines


def report(layers: list[str], suff, corr, policy: Policy, loco: dict, heldout: dict, scores: dict, pool) -> str:
    from training.probe_fit import auc

    def pooled_auc(key: str, field: str, drafted: bool) -> float | None:
        pairs = [(q, n) for q in pool for n, r in q.looks.items() if (q.corpus, q.id, n) in scores[key]
                 and (not drafted or r.get("draft"))]
        return auc([int(bool(q.looks[n][field])) for q, n in pairs], [scores[key][(q.corpus, q.id, n)] for q, n in pairs])

    return "\n".join([
        "# The decision, validated leave-one-corpus-out", "",
        "`python -m training.train_decision` (training/train_decision.py). Each corpus (a training package, the docs "
        "set's dev split, the seed set's dev split) is scored by fits that never saw it; thresholds are chosen on these "
        "out-of-corpus scores: the most right answers shown, averaged over corpora, with wrong answers shown <= "
        f"{MAX_WRONG} and unanswerable refused >= {MIN_REFUSED} on that average. Heldout: the eval sets' heldout split, "
        "scored by the final fit (every corpus).", "",
        "## Probe configurations (out-of-corpus AUC, pooled)", "", *layers, "",
        f"Chosen: sufficiency {suff[0]} layer {suff[1]}; correctness {corr[0]} layer {corr[1]}.", "",
        f"Pooled out-of-corpus AUC: sufficiency (the look holds the answer) {fmt(pooled_auc('suff', 'present', False))}; "
        f"confirmation (the draft is right) {fmt(pooled_auc('confidence', 'correct', True))}; correctness probe alone "
        f"{fmt(pooled_auc('corr', 'correct', True))}.", "",
        f"## Policy chosen: second look below {policy.second_look}, refuse before drafting below {policy.refuse}, "
        f"show at or above {policy.show}", "",
        "right_shown: answerable questions answered right; unanswerable_refused; wrong_shown: answers shown that are "
        "wrong (answerable wrong + unanswerable answered) over all questions; second_look: share that read the second "
        "look; pre_refused / pre_precision: refusals before drafting and the share of them whose draft would not have "
        "been right; right_when_present: the draft is right when its look holds the answer. _worst names the worst "
        f"corpus of at least {MIN_REPORTED} questions.", "",
        "### Held out in turn (dev)", "", *table(loco), "",
        "### Policies compared (held out in turn, pooled; the mean and worst over corpora)", "",
        *compared(pool, scores, policy), "",
        "### Heldout split, final fit", "", *table(heldout), ""])
