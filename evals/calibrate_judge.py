"""Choose the trained judge's thresholds on the eval sets' dev split, with cross-validation, from replayed drafts
(evals/replay_judge.py), and report the held-out folds and the heldout split it never saw.

Example: python -m evals.calibrate_judge evals/out/replay-seeds.jsonl:seeds evals/out/replay-docs.jsonl:docs --save
  -> AUC answerable vs unanswerable (best passage) per set and split; for the rules and for the chosen thresholds:
     accuracy, refusal on unanswerable, false refusal, per set, dev folds and heldout; --save writes
     {"answerable": t_a, "supported": t_s} into rag/answer/judge_model/judge.json (the best accuracy that withholds at most
     MAX_EXTRA_FALSE_REFUSAL more answerable items than the rules)
Decisions simulated as the engine takes them (rag/answer/engine.py): refuse when the best passage scores under t_a; a
sentence counts only when the word rules support it and the judge scores it >= t_s; refuse when the rules refused,
when no sentence counts, or when under half of them do; the answer is the sentences the judge did not reject.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
from pathlib import Path

from evals.dataset import load_items
from evals.metrics import auc
from evals.summary import aggregate_answers, score_answer
from rag.answer.judge import MIN_GROUNDING
from training.train_judge import write_card

GRID_A = [round(x * 0.02, 2) for x in range(0, 50)]  # 0: no gate
GRID_S = [0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5]
FOLDS = 5
WRONG_COST = 1.0  # the utility reported beside accuracy: right +1, wrong -1, withheld 0 (the CRAG score's weights)
# A judge whose AUC is 0.5-0.76 (measured) cannot refuse much without withholding right answers: utility-optimal
# thresholds withheld 0.3-0.5 of the answerable items. The users' other complaint is a right answer withheld, so the
# thresholds may withhold at most this much more than the rules do on the lines they are fitted on.
MAX_EXTRA_FALSE_REFUSAL = 0.03
SEED = 20261203


def _claims_mean(line: dict) -> float | None:
    judged = [c["judged"] for c in line["claims"] if c.get("judged") is not None]
    return sum(judged) / len(judged) if judged else None


# what tells answerable from unanswerable items, reported as AUC beside the one the gate uses (best_passage)
SIGNALS = {"best_passage": lambda line: line["best_passage"],
           "best_retrieval": lambda line: line.get("best_retrieval"),
           "claims_mean": _claims_mean}


def decide(line: dict, t_a: float | None, t_s: float | None) -> tuple[bool, str]:
    """(refused, answer text) for one replayed draft; None thresholds: the rules alone."""
    if line.get("error") or line.get("gate"):
        return True, ""
    if t_a is not None and line["best_passage"] < t_a:
        return True, ""
    claims = line["claims"]
    counted = [c for c in claims if c["rules"] and (t_s is None or (c["judged"] or 0.0) >= t_s)]
    if line["flags"] or not counted or len(counted) < MIN_GROUNDING * len(claims):
        return True, ""
    shown = [c for c in claims if t_s is None or (c["judged"] or 0.0) >= t_s]  # as rag/answer/engine.py renders
    return False, " ".join(c["sentence"] for c in shown)


def score(lines: list[dict], items: dict, t_a, t_s) -> dict:
    scored = []
    for line in lines:
        refused, answer = decide(line, t_a, t_s)
        scored.append(score_answer(items[line["id"]], {"refused": refused, "answer": answer}, {}))
    figures = aggregate_answers(scored)
    utility = sum((s["accurate"] and 1.0) or (-WRONG_COST if not s["refused"] else 0.0) for s in scored) / len(scored)
    keys = ("n", "accuracy", "refusal_rate", "false_refusal_rate", "answer_accuracy")
    return {**{k: figures[k] for k in keys}, "utility": round(utility, 4)}


def choose(lines: list[dict], items: dict) -> tuple[float, float]:
    """The thresholds with the best accuracy on these lines among those that withhold at most MAX_EXTRA_FALSE_REFUSAL
    more of the answerable items than the rules do (ties: more unanswerable refused, then the lower thresholds)."""
    rules = score(lines, items, None, None)["false_refusal_rate"] or 0.0
    allowed = []
    for t in itertools.product(GRID_A, GRID_S):
        figures = score(lines, items, *t)
        if (figures["false_refusal_rate"] or 0.0) <= rules + MAX_EXTRA_FALSE_REFUSAL:
            allowed.append(((figures["accuracy"], figures["refusal_rate"] or 0.0, -t[0], -t[1]), t))
    return max(allowed)[1]


def cross_validated(lines: list[dict], items: dict) -> list[dict]:
    """Each fold's lines decided with thresholds chosen on the other folds."""
    shuffled = sorted(lines, key=lambda line: line["id"])
    random.Random(SEED).shuffle(shuffled)
    decided = []
    for fold in range(FOLDS):
        test = shuffled[fold::FOLDS]
        train = [line for i, line in enumerate(shuffled) if i % FOLDS != fold]
        t_a, t_s = choose(train, items)
        decided += [{**line, "_t": (t_a, t_s)} for line in test]
    return decided


def fold_score(decided: list[dict], items: dict) -> dict:
    scored = []
    for line in decided:
        refused, answer = decide(line, *line["_t"])
        scored.append(score_answer(items[line["id"]], {"refused": refused, "answer": answer}, {}))
    figures = aggregate_answers(scored)
    return {k: figures[k] for k in ("n", "accuracy", "refusal_rate", "false_refusal_rate", "answer_accuracy")}


def main(argv: list[str] | None = None) -> int:
    from evals.__main__ import CORPORA
    from rag.answer.evidence_judge import CARD, MODEL_DIR

    parser = argparse.ArgumentParser(prog="python -m evals.calibrate_judge", description=__doc__.splitlines()[0])
    parser.add_argument("replays", nargs="+", help="REPLAY.jsonl:CORPUS")
    parser.add_argument("--save", action="store_true", help="store the thresholds in rag/answer/judge_model/judge.json")
    args = parser.parse_args(argv)
    sets = {}
    for spec in args.replays:
        path, corpus = spec.rsplit(":", 1)
        items = {item.id: item for item in load_items(CORPORA[corpus].dataset)}
        lines = [json.loads(line) for line in Path(path).read_text().splitlines()]
        sets[corpus] = (items, lines)
    report = {}
    for corpus, (_items, lines) in sets.items():
        for split in ("dev", "heldout"):
            chosen = [line for line in lines if line["split"] == split and not line.get("error")]
            for name, signal in SIGNALS.items():
                found = [(signal(line), int(line["answerable"])) for line in chosen if signal(line) is not None]
                report[f"{corpus}/{split}/auc_{name}"] = auc(*zip(*found)) if found else None
    dev = [(items, [line for line in lines if line["split"] == "dev"]) for items, lines in sets.values()]
    all_items = {k: v for items, _ in sets.values() for k, v in items.items()}
    dev_lines = [line for _, lines in dev for line in lines]
    t_a, t_s = choose(dev_lines, all_items)
    decided = {line["id"]: line for line in cross_validated(dev_lines, all_items)}
    for corpus, (items, lines) in sets.items():
        for split in ("dev", "heldout"):
            chosen = [line for line in lines if line["split"] == split]
            report[f"{corpus}/{split}/rules"] = score(chosen, items, None, None)
            report[f"{corpus}/{split}/judge"] = score(chosen, items, t_a, t_s)
            if split == "dev":
                report[f"{corpus}/dev/judge_cv_folds"] = fold_score([decided[line["id"]] for line in chosen], items)
    report["thresholds"] = {"answerable": t_a, "supported": t_s}
    print(json.dumps(report, indent=1))
    if args.save:
        card_path = MODEL_DIR / CARD
        card = json.loads(card_path.read_text())
        card["thresholds"] = {"answerable": t_a, "supported": t_s}
        card["calibration"] = {"command": "python -m evals.calibrate_judge " + " ".join(args.replays) + " --save",
                               "wrong_cost": WRONG_COST, "max_extra_false_refusal": MAX_EXTRA_FALSE_REFUSAL, "report": report}
        card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        write_card(MODEL_DIR, card)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
