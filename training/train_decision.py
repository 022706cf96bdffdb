"""Fit and validate the decision (rag/answer/decide.py) leave-one-corpus-out, and write the decision file.

Example: python -m training.train_decision                 # validate: training/data/DECISION.md
         python -m training.train_decision --save          # and rag/answer/decision/default.json
Inputs: training.look_states' records (both looks of every question, drafted, with states). A corpus is a training
package, the docs set or the seed set (dev items only). The eval sets' heldout split and the training corpus's
heldout packages are neither fitted on nor chosen by: they are only reported, scored by the final fit.
Each corpus is held out in turn: the sufficiency probe, the correctness probe and the confirmation (a logistic
regression over the draft's signals, fitted on probe scores that are themselves out of fold) are fitted on the
other corpora and score the held-out one. The thresholds (when to read the second look, whether and when to refuse
before drafting, when to show a draft) are chosen on the out-of-corpus scores: the most right answers shown on
average over the held-out corpora, within the issue's targets on that average (wrong shown <= 0.10, unanswerable
refused >= 0.85); a refusal before drafting is kept only where it is >= 0.95 precise, pooled. The figures are
reported per held-out corpus: the mean and the worst.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from training.decision_data import Question, StateCache, load_questions
from training.decision_replay import FIGURES, Policy, choose, replay, table
from training.probe_fit import SEED, auc, fit, scores

LAYERS = (10, 14, 17, 20, 23, 27)
DRAFT_FEATURES = ("draft_keys", "draft_mean", "draft_last")
SIGNALS = ("sufficiency", "correctness", "grounding", "copied", "mean_logprob", "min_logprob", "says_not",
           "unsupported", "dangling", "looks", "best_rank", "relevance")
REPORT = Path(__file__).resolve().parent / "data" / "DECISION.md"
INNER_FOLDS = 5


def fitted_on(questions: list[Question]) -> list[Question]:
    """What a fit may see: the training questions but those of the heldout packages, and the eval sets' dev items."""
    return [q for q in questions if not unseen(q)]


def unseen(question: Question) -> bool:
    """Only measured, never fitted on nor chosen by: the eval sets' heldout split, the training heldout packages."""
    from training.targets import heldout_packages

    return question.split == "heldout" and (question.corpus in ("docs", "seeds") or question.corpus in heldout_packages())


def samples(questions: list[Question], drafted: bool) -> list[tuple[Question, int]]:
    """(question, look) pairs with a prompt (drafted: and a draft)."""
    return [(q, n) for q in questions for n, r in sorted(q.looks.items())
            if not r.get("no_prompt") and (not drafted or r.get("draft"))]


def label(question: Question, look: int, name: str) -> int:
    record = question.looks[look]
    return int(bool(record["present"] if name == "sufficiency" else record["correct"]))


class Probes:
    """Fits and scores one probe configuration (label, feature, layer) over recorded (question, look) pairs."""

    def __init__(self, cache: StateCache, name: str, feature: str, layer: int):
        self.cache, self.name, self.feature, self.layer = cache, name, feature, layer

    def data(self, pairs):
        X = self.cache.matrix([q for q, _ in pairs], self.feature, self.layer, [n for _, n in pairs])
        return X, np.array([label(q, n, self.name) for q, n in pairs])

    def fit(self, pairs):
        return fit(*self.data(pairs))

    def score(self, probe, pairs) -> np.ndarray:
        return scores(self.data(pairs)[0], *probe) if pairs else np.zeros(0)


def grouped_folds(pairs, folds: int) -> list[int]:
    """A fold per pair: whole corpora to a fold where there are enough of them (out of corpus within the fit),
    else whole questions (a question's looks always share a fold)."""
    corpora = sorted({q.corpus for q, _ in pairs})
    key = (lambda q: q.corpus) if len(corpora) >= folds else (lambda q: f"{q.corpus}/{q.id}")
    groups = sorted({key(q) for q, _ in pairs})
    rng = np.random.default_rng(SEED)
    order = {g: i % folds for i, g in enumerate(rng.permutation(groups))}
    return [order[key(q)] for q, _ in pairs]


def out_of_corpus(probes: Probes, pairs, held: set[str] | None = None) -> dict[tuple[str, str, int], float]:
    """Each pair's score from a probe fitted without its corpus (held: only these corpora are scored)."""
    out = {}
    for corpus in sorted({q.corpus for q, _ in pairs} if held is None else held):
        train = [p for p in pairs if p[0].corpus != corpus]
        test = [p for p in pairs if p[0].corpus == corpus]
        probe = probes.fit(train)
        out |= {(q.corpus, q.id, n): s for (q, n), s in zip(test, probes.score(probe, test))}
    return out


def signals(question: Question, look: int, suff: float | None, correct: float | None) -> dict:
    """The signals the engine would read about this look's draft (rag.answer.decide.draft_signals)."""
    from rag.answer.decide import draft_signals

    record = question.looks[look]
    logprobs = [record["mean_logprob"]] if record.get("mean_logprob") is not None else []
    found = draft_signals(record.get("reasons", []), record.get("grounding", 0.0), record.get("copied", 0.0), logprobs,
                          suff, correct, look, record.get("ranks") or [], record.get("scores") or [])
    found["min_logprob"] = record["min_logprob"] if record.get("min_logprob") is not None else found["min_logprob"]
    return found


def logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return float(np.log(p / (1 - p)))


def signal_matrix(rows: list[dict], names=SIGNALS) -> np.ndarray:
    return np.array([[logit(r[n]) if n in ("sufficiency", "correctness") else r[n] for n in names] for r in rows])


def fit_combination(rows: list[dict], y: np.ndarray, names=SIGNALS) -> dict:
    from sklearn.linear_model import LogisticRegression

    X = signal_matrix(rows, names)
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=5000).fit((X - mean) / scale, y)
    return {"features": list(names), "mean": mean.tolist(), "scale": scale.tolist(), "coef": model.coef_[0].tolist(),
            "intercept": float(model.intercept_[0])}


def combine(combination: dict, rows: list[dict]) -> np.ndarray:
    X = signal_matrix(rows, combination["features"])
    z = ((X - np.asarray(combination["mean"])) / np.asarray(combination["scale"])) @ np.asarray(combination["coef"])
    return 1 / (1 + np.exp(-np.clip(z + combination["intercept"], -50, 50)))


class Study:
    """Every out-of-corpus score the replay needs, for one choice of layers."""

    def __init__(self, questions: list[Question], cache: StateCache, suff: tuple[str, int], corr: tuple[str, int]):
        self.questions = questions
        self.suff = Probes(cache, "sufficiency", *suff)
        self.corr = Probes(cache, "correctness", *corr)

    def scores(self, train: list[Question], test: list[Question]) -> dict:
        """Probe and confirmation scores for test's looks from fits on train (the confirmation on probe scores that
        are out of fold within train)."""
        s_pairs, c_pairs = samples(train, False), samples(train, True)
        inner_s = self._inner(self.suff, s_pairs)
        inner_c = self._inner(self.corr, c_pairs)
        rows = [signals(q, n, inner_s.get((q.corpus, q.id, n)), inner_c[(q.corpus, q.id, n)]) for q, n in c_pairs]
        keep = [i for i, r in enumerate(rows) if r["sufficiency"] is not None]
        combination = fit_combination([rows[i] for i in keep], np.array([label(*c_pairs[i], "correctness") for i in keep]))
        s_probe, c_probe = self.suff.fit(s_pairs), self.corr.fit(c_pairs)
        test_s, test_c = samples(test, False), samples(test, True)
        out = {"suff": dict(zip([(q.corpus, q.id, n) for q, n in test_s], self.suff.score(s_probe, test_s))),
               "corr": dict(zip([(q.corpus, q.id, n) for q, n in test_c], self.corr.score(c_probe, test_c)))}
        rows = [signals(q, n, out["suff"][(q.corpus, q.id, n)], out["corr"][(q.corpus, q.id, n)]) for q, n in test_c]
        out["confidence"] = dict(zip([(q.corpus, q.id, n) for q, n in test_c], combine(combination, rows)))
        out["fits"] = (s_probe, c_probe, combination)
        return out

    def _inner(self, probes: Probes, pairs) -> dict:
        folds = grouped_folds(pairs, INNER_FOLDS)
        out = {}
        for k in sorted(set(folds)):
            train = [p for p, f in zip(pairs, folds) if f != k]
            test = [p for p, f in zip(pairs, folds) if f == k]
            out |= dict(zip([(q.corpus, q.id, n) for q, n in test], probes.score(probes.fit(train), test)))
        return out

    def leave_one_corpus_out(self) -> dict:
        pool = fitted_on(self.questions)
        merged = {"suff": {}, "corr": {}, "confidence": {}}
        for corpus in sorted({q.corpus for q in pool}):
            found = self.scores([q for q in pool if q.corpus != corpus], [q for q in pool if q.corpus == corpus])
            for key in merged:
                merged[key] |= found[key]
        return merged


def layer_table(questions: list[Question], cache: StateCache) -> tuple[list[str], tuple, tuple]:
    """LOCO AUC of each probe configuration, pooled over the held-out corpora; the best of each."""
    pool = fitted_on(questions)
    lines = ["| probe | feature | layer | out-of-corpus AUC (pooled) |", "|---|---|---|---|"]
    best = {}
    for name, features, drafted in (("sufficiency", ("prompt_end",), False), ("correctness", DRAFT_FEATURES, True)):
        pairs = samples(pool, drafted)
        y = [label(q, n, name) for q, n in pairs]
        for feature in features:
            for layer in LAYERS:
                found = out_of_corpus(Probes(cache, name, feature, layer), pairs)
                value = auc(y, [found[(q.corpus, q.id, n)] for q, n in pairs])
                lines.append(f"| {name} | {feature} | {layer} | {value:.3f} |")
                if value is not None and value > best.get(name, (None, None, -1))[2]:
                    best[name] = (feature, layer, value)
    return lines, best["sufficiency"][:2], best["correctness"][:2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.train_decision", description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help="write rag/answer/decision/default.json")
    parser.add_argument("--model", default="default")
    parser.add_argument("--suff", help="feature:layer of the sufficiency probe (default: the best out of corpus)")
    parser.add_argument("--corr", help="feature:layer of the correctness probe (default: the best out of corpus)")
    args = parser.parse_args(argv)
    questions = load_questions(args.model)
    cache = StateCache()
    lines, suff, corr = layer_table(questions, cache)
    suff = (args.suff.split(":")[0], int(args.suff.split(":")[1])) if args.suff else suff
    corr = (args.corr.split(":")[0], int(args.corr.split(":")[1])) if args.corr else corr
    study = Study(questions, cache, suff, corr)
    loco = study.leave_one_corpus_out()
    pool = fitted_on(questions)
    policy = choose(pool, loco)
    figures = replay(pool, loco, policy)
    final = study.scores(pool, questions)  # the final fit: every corpus seen, scoring everything (heldout included)
    heldout = [q for q in questions if unseen(q)]
    heldout_figures = replay(heldout, final, policy)
    write_report(lines, suff, corr, policy, figures, heldout_figures, loco, pool)
    print("\n".join(table(figures, FIGURES)))
    if args.save:
        write_file(args.model, suff, corr, policy, final["fits"], figures)
    return 0


def write_report(*parts) -> None:
    from training.decision_replay import report

    REPORT.write_text(report(*parts), encoding="utf-8")
    print(f"wrote {REPORT}")


def write_file(model: str, suff, corr, policy: Policy, fits, figures) -> None:
    from rag.answer.decide import DECISIONS
    from rag.generate.models import GGUF_MODELS

    s_probe, c_probe, combination = fits
    data = {"model": model, "model_sha256": GGUF_MODELS[model].sha256, "width": int(s_probe[0].size),
            "probes": {"sufficiency": {"feature": suff[0], "layer": suff[1], "direction": s_probe[0].tolist(),
                                       "bias": s_probe[1]},
                       "correctness": {"feature": corr[0], "layer": corr[1], "direction": c_probe[0].tolist(),
                                       "bias": c_probe[1]}},
            "second_look_below": policy.second_look, "refuse_below": policy.refuse, "show_at_least": policy.show,
            "combination": combination, "rules": [],
            "card": {"trained": datetime.now(UTC).isoformat(timespec="seconds"),
                     "command": "python -m training.train_decision --save",
                     "validation": "leave-one-corpus-out: each training package, docs dev, seeds dev held out in turn",
                     "figures": "training/data/DECISION.md"}}
    path = DECISIONS / f"{model}.json"
    path.write_text(json.dumps(data) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
