"""Fit the answer judge's combination of signals (selective generation) with cross-validation, and store it.

Usage: python -m evals.fit_judge RUN_DIR [RUN_DIR ...] [--save rag/answer/judge_weights.json]
Each RUN_DIR holds progress-ours-<model>.jsonl from `RAG_JUDGE_PROBES=all python -m evals ... --out RUN_DIR` (the
engine then asks every probe, whatever rag/answer/judge_weights.json uses) and the dataset it ran. A draft is labelled right when it
contains a gold answer of an answerable item; drafts of unanswerable items are wrong. Items scored by key terms
(why, how, list) are left out of the fit: their labels are the least sure. Only dev items are fitted; the report
gives the cross-validated figures of the dev folds, then the fitted judge on the heldout items, which it never saw.
Example: python -m evals.fit_judge evals/runs/judge-seeds evals/runs/judge-docs
  -> per signal set: held-out AUC, and at the chosen threshold refusal on unanswerable / false refusal / accuracy
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

from evals.dataset import load_items
from evals.metrics import contains_answer
from rag.answer.judge import MIN_GROUNDING, features

CANDIDATES = {  # signal sets compared; the judge uses the one with the best held-out utility
    "sufficiency": ["sufficiency"],
    "answer_check": ["answer_check"],
    "logprobs": ["mean_logprob", "min_logprob"],
    "evidence+grounding": ["evidence_score", "grounding"],
    "probes": ["sufficiency", "answer_check"],
    "probes+logprobs": ["sufficiency", "answer_check", "mean_logprob", "min_logprob"],
    "all": ["sufficiency", "answer_check", "mean_logprob", "min_logprob", "evidence_score", "grounding"],
}
FOLDS = 5
L2 = 1.0
# reasons that do not refuse by rule: what was changed, and the decisions the fitted combination takes over
SOFT_REASONS = ("dropped", "judged", "only ")
WRONG_COST = 2.0  # a wrong answer shown costs twice what a refusal of a right one does (the users' main complaint)


def load_examples(runs: list[Path]) -> list[dict]:
    """One example per answered-or-withheld draft with its signals, label, split and type."""
    examples = []
    for run in runs:
        summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        items = {item.id: item for item in load_items(Path(summary["run"]["dataset"]))}
        for log in sorted(run.glob("progress-ours-*.jsonl")):
            for line in log.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                item, verdict = items[record["id"]], record.get("judge")
                if not verdict or not verdict.get("signals") or item.key_terms:
                    continue  # refused before the model wrote (no draft), or a key-term item
                draft = record.get("draft") or record.get("answer") or ""
                examples.append({"id": f"{run.name}/{item.id}", "type": item.type, "split": item.split,
                                 "label": int(item.answerable and contains_answer(draft, item.answers)),
                                 "answerable": item.answerable, "signals": verdict["signals"],
                                 "rules_refused": any(not r.startswith(SOFT_REASONS) for r in verdict["reasons"])})
    return examples


def fit_logistic(rows: list[list[float]], labels: list[int], l2: float = L2) -> tuple[list[float], float]:
    """L2-regularised logistic regression by Newton's method on standardised inputs; returns (coef, intercept)."""
    import numpy as np

    x = np.array(rows, dtype=float)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    y = np.array(labels, dtype=float)
    w = np.zeros(z.shape[1])
    penalty = np.eye(z.shape[1]) * l2
    penalty[0, 0] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-z @ w))
        gradient = z.T @ (p - y) + penalty @ w
        hessian = z.T @ (z * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    coef = w[1:] / scale
    return coef.tolist(), float(w[0] - (w[1:] * mean / scale).sum())


def rules_scores(rows: list[dict]) -> list[float]:
    """The rules-only judge's decision as a score: 1 when half or more of the sentences are supported."""
    return [1.0 if e["signals"].get("grounding", 0.0) >= MIN_GROUNDING else 0.0 for e in rows]


def predict(coef: list[float], intercept: float, values: list[float]) -> float:
    return 1 / (1 + math.exp(-(intercept + sum(c * v for c, v in zip(coef, values)))))


def utility(scores: list[float], labels: list[int], threshold: float, wrong_cost: float = WRONG_COST) -> float:
    """+1 per right draft shown, -wrong_cost per wrong draft shown, 0 per refusal."""
    return sum((1 if y else -wrong_cost) for s, y in zip(scores, labels) if s >= threshold)


def best_threshold(scores: list[float], labels: list[int], wrong_cost: float = WRONG_COST) -> float:
    options = sorted(set(scores)) + [1.01]
    return max(options, key=lambda t: (utility(scores, labels, t, wrong_cost), -t))


def auc(scores: list[float], labels: list[int]) -> float | None:
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return None
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


def outcome(examples: list[dict], scores: list[float], threshold: float) -> dict:
    """Decision figures: a draft is shown when no rule refused it and its score reaches the threshold."""
    shown = [not e["rules_refused"] and s >= threshold for e, s in zip(examples, scores)]
    unanswerable = [sh for sh, e in zip(shown, examples) if not e["answerable"]]
    right = [sh for sh, e in zip(shown, examples) if e["label"]]
    return {"n": len(examples), "auc": auc(scores, [e["label"] for e in examples]),
            "refusal_on_unanswerable": 1 - sum(unanswerable) / len(unanswerable) if unanswerable else None,
            "right_drafts_withheld": 1 - sum(right) / len(right) if right else None,
            "wrong_drafts_shown": sum(sh and not e["label"] for sh, e in zip(shown, examples)),
            "accuracy": sum((sh and e["label"]) or (not sh and not e["answerable"]) for sh, e in zip(shown, examples))
            / len(examples)}


def cross_validate(examples: list[dict], names: list[str], seed: int = 0,
                   wrong_cost: float = WRONG_COST) -> tuple[dict, list[float]]:
    """Held-out figures over FOLDS folds (threshold chosen on each training part); each example's held-out score."""
    usable = [e for e in examples if features(e["signals"], names) is not None]
    order = list(range(len(usable)))
    random.Random(seed).shuffle(order)
    scores = [0.0] * len(usable)
    thresholds = []
    for fold in range(FOLDS):
        test = set(order[fold::FOLDS])
        train = [i for i in range(len(usable)) if i not in test]
        coef, intercept = fit_logistic([features(usable[i]["signals"], names) for i in train], [usable[i]["label"] for i in train])
        train_scores = [predict(coef, intercept, features(usable[i]["signals"], names)) for i in train]
        threshold = best_threshold(train_scores, [usable[i]["label"] for i in train], wrong_cost)
        thresholds.append(threshold)
        for i in test:  # a held-out score is compared with its own fold's threshold: shift it so 0.5 means "at it"
            scores[i] = predict(coef, intercept, features(usable[i]["signals"], names)) - threshold + 0.5
    return outcome(usable, scores, 0.5), scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.fit_judge", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--save", type=Path, help="write the choice here (rag/answer/judge_weights.json makes it the judge's)")
    parser.add_argument("--wrong-cost", type=float, default=WRONG_COST,
                        help=f"what a wrong draft shown costs against a right one withheld (default {WRONG_COST})")
    args = parser.parse_args(argv)
    cost = args.wrong_cost
    examples = load_examples(args.runs)
    dev = [e for e in examples if e["split"] == "dev"]
    heldout = [e for e in examples if e["split"] == "heldout"]
    print(f"{len(dev)} dev drafts ({sum(e['label'] for e in dev)} right), {len(heldout)} heldout drafts; "
          f"a wrong draft shown costs {cost}")
    # the rules alone (no fitted part, so no folds): shown when no rule refused it and half its sentences are supported
    results = {"rules": outcome(dev, rules_scores(dev), 0.5)}
    for name, names in CANDIDATES.items():
        results[name], _ = cross_validate(dev, names, wrong_cost=cost)
    for name, figures in results.items():
        print(f"{name:20s} " + "  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items()))
    # the most accurate on the held-out folds; a tie goes to the rules, then to fewer signals (each probe costs time)
    chosen = max(results, key=lambda n: (results[n]["accuracy"], n == "rules", -len(CANDIDATES.get(n, []))))
    report = {"chosen": chosen, "fitted_on": [str(r) for r in args.runs], "wrong_cost": cost,
              "command": "python -m evals.fit_judge " + " ".join(sys.argv[1:] if argv is None else argv),
              "cross_validated": results[chosen], "candidates": results}
    if chosen == "rules":
        score = rules_scores
        report["note"] = "no combination of signals beat the rules on the held-out folds: the judge keeps the rules"
    else:
        names = CANDIDATES[chosen]
        usable = [e for e in dev if features(e["signals"], names) is not None]
        coef, intercept = fit_logistic([features(e["signals"], names) for e in usable], [e["label"] for e in usable])
        threshold = best_threshold([predict(coef, intercept, features(e["signals"], names)) for e in usable],
                                   [e["label"] for e in usable], cost)
        heldout = [e for e in heldout if features(e["signals"], names) is not None]
        report.update({"features": names, "coef": [round(c, 6) for c in coef], "intercept": round(intercept, 6),
                       "threshold": round(threshold, 6)})

        def score(rows: list[dict]) -> list[float]:  # shifted so that 0.5 is the threshold, as for the rules
            return [predict(coef, intercept, features(e["signals"], names)) - threshold + 0.5 for e in rows]
    report["heldout"] = outcome(heldout, score(heldout), 0.5)
    print(f"chosen: {chosen}; heldout: " + json.dumps(report["heldout"]))
    report["heldout_per_run"] = {}
    for run in args.runs:  # the heldout figures of each eval set on its own
        mine = [e for e in heldout if e["id"].startswith(f"{run.name}/")]
        if mine:
            report["heldout_per_run"][run.name] = outcome(mine, score(mine), 0.5)
            print(f"  heldout {run.name}: " + json.dumps(report["heldout_per_run"][run.name]))
    if args.save:
        args.save.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"saved {args.save}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
