"""Train and measure the probes on the model's states, choose the ladder's thresholds on the eval sets' dev split,
and write the probe file the engine loads.

Example: python -m training.train_probes                 # figures only (training/data/PROBES.md)
         python -m training.train_probes --save          # and rag/answer/probes/default.json
Inputs: training.probe_states' records of the training corpus (its "train" packages) and of the eval sets' dev
split. The eval sets' heldout split and the training corpus's heldout packages are only measured. Every choice (layer,
feature, thresholds, the word rules kept) is made on dev: out-of-fold scores from 5 folds grouped by question, the
training corpus's prompts in every fold's fit. The heldout columns are computed with the probe fitted on the training
prompts and all of dev.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from evals.ladder import figures
from rag.answer.ladder import ALWAYS, RULES, Ladder, decide
from training.probe_data import PromptSet, fit_sets, load_sets
from training.probe_fit import auc, folds_of, out_of_fold, scores

LAYERS = (6, 10, 14, 17, 20, 23, 27)
CORPORA = ("docs", "seeds")
DRAFT_FEATURES = ("prompt_end", "draft_last", "draft_mean", "draft_keys")


def has_draft(record: dict) -> bool:
    return bool(record.get("generated_tokens"))


@dataclass
class Split:
    """The prompts of one study: the training corpus's (in every fit), the eval sets' dev (cross-validated) and
    heldout (measured only), and the training corpus's heldout packages (measured only)."""
    train: PromptSet
    dev: PromptSet
    heldout: PromptSet
    train_heldout: PromptSet

    @classmethod
    def of(cls, sets: dict[str, PromptSet], test=None) -> Split:
        evals = sets["docs"] + sets["seeds"]
        return cls(sets["training"].where(test, split="train"), evals.where(test, split="dev"),
                   evals.where(test, split="heldout"), sets["training"].where(test, split="heldout"))


@dataclass
class Scored:
    """One probe configuration's score for every prompt id, each from a fit that did not see it."""
    dev: dict[str, float] = field(default_factory=dict)  # out of fold
    heldout: dict[str, float] = field(default_factory=dict)  # fitted on training + all dev
    cross: dict[str, float] = field(default_factory=dict)  # dev, fitted on training + the other eval set's dev
    transfer: dict[str, float] = field(default_factory=dict)  # dev and heldout, fitted on the training corpus alone
    train_heldout: dict[str, float] = field(default_factory=dict)  # training heldout packages, fitted on the rest


def _ids(s: PromptSet) -> list[str]:
    return [r["id"] for r in s.records]


def _score(s: PromptSet, probe, feature: str, layer: int) -> dict[str, float]:
    return dict(zip(_ids(s), scores(s.X(feature, layer), *probe))) if len(s) else {}


def score(split: Split, label: str, feature: str, layer: int) -> Scored:
    out = Scored()
    y = split.dev.y(label)
    oof = out_of_fold(split.dev.X(feature, layer), y, folds_of(split.dev.groups(), y),
                      split.train.X(feature, layer), split.train.y(label))
    out.dev = dict(zip(_ids(split.dev), oof))
    full = fit_sets([split.train, split.dev], label, feature, layer)
    out.heldout = _score(split.heldout, full, feature, layer)
    out.train_heldout = _score(split.train_heldout, full, feature, layer)
    for corpus, other in zip(CORPORA, reversed(CORPORA)):
        mine, theirs = split.dev.where(corpus=corpus), split.dev.where(corpus=other)
        if len(theirs):
            out.cross |= _score(mine, fit_sets([split.train, theirs], label, feature, layer), feature, layer)
    if len(set(split.train.y(label))) == 2:  # both labels among the training corpus's prompts
        alone = fit_sets([split.train], label, feature, layer)
        out.transfer = _score(split.dev, alone, feature, layer) | _score(split.heldout, alone, feature, layer)
    return out


# ---- what each figure compares ---------------------------------------------------------------------------------------
def clean_pairs(records: list[dict]) -> list[tuple[str, int]]:
    """Sufficiency: an answerable item whose passages hold the gold answer (1) against an unanswerable one (0)."""
    return [(r["id"], int(r["answerable"])) for r in records
            if r["variant"] == "engine" and (not r["answerable"] or r["sufficient"])]


def presence_pairs(records: list[dict]) -> list[tuple[str, int]]:
    """Answer presence: the gold answer in the passages (1) against the same question with it taken out (0)."""
    removed = {r["id"].split("/")[0] for r in records if r["variant"] == "removed"}
    return [(r["id"], int(r["variant"] == "engine")) for r in records
            if (r["variant"] == "engine" and r["sufficient"] and r["id"] in removed) or r["variant"] == "removed"]


def training_pairs(records: list[dict]) -> list[tuple[str, int]]:
    return [(r["id"], int(r["sufficient"])) for r in records]


def correct_pairs(records: list[dict]) -> list[tuple[str, int]]:
    """Correctness: the engine's draft on an eval item, right (1) or wrong (0; every draft on an unanswerable item)."""
    return [(r["id"], int(r["correct"])) for r in records if r["variant"] == "engine" and has_draft(r)]


def auc_of(values: dict[str, float], pairs: list[tuple[str, int]], corpus: str | None, records: list[dict]) -> float | None:
    where = {r["id"]: r["corpus"] for r in records}
    chosen = [(values[i], y) for i, y in pairs if i in values and (corpus is None or where[i] == corpus)]
    return auc([y for _, y in chosen], [v for v, _ in chosen]) if chosen else None


def baseline(records: list[dict], field_name: str) -> dict[str, float]:
    """A signal every record carries (the evidence score, the trained judge's best passage), as scores by id."""
    return {r["id"]: float(r.get(field_name) or 0.0) for r in records}


def rules_score(records: list[dict]) -> dict[str, float]:
    """Today's rules as a score: 1 shown, 0 withheld."""
    return {r["id"]: float(not r["refused"]) for r in records}


FIGURES = {  # name -> (pairs, which scores, which records)
    "dev CV": ("dev", "dev"), "dev, other set's fit": ("cross", "dev"), "heldout": ("heldout", "heldout"),
    "dev, training corpus alone": ("transfer", "dev"), "heldout, training corpus alone": ("transfer", "heldout"),
}


def auc_rows(scored: Scored, split: Split, pairs) -> dict[str, float | None]:
    """AUC per figure and eval set: {"dev CV docs": 0.97, ...}."""
    row = {}
    for name, (which, part) in FIGURES.items():
        records = getattr(split, part).records
        for corpus in CORPORA:
            row[f"{name} {corpus}"] = auc_of(getattr(scored, which), pairs(records), corpus, records)
    return row


def baseline_rows(values: dict[str, float], split: Split, pairs) -> dict[str, float | None]:
    row = {}
    for part in ("dev", "heldout"):
        records = getattr(split, part).records
        for corpus in CORPORA:
            row[f"{part} {corpus}"] = auc_of(values, pairs(records), corpus, records)
    return row


# ---- the ladder ------------------------------------------------------------------------------------------------------
ACCURACY_SLACK = 0.02  # the issue's bound: accuracy may fall at most this far below the rules' (held on dev)
GRID = tuple(round(t, 3) for t in np.arange(0.02, 0.99, 0.02))


def ladder_records(part: PromptSet, sufficiency: dict[str, float], correctness: dict[str, float]) -> list[dict]:
    """The engine's answer to each eval item (not the constructed variants), with the probes' scores beside it; an
    item refused for want of relevant evidence never reached the model."""
    out = []
    for r in part.records:
        if r["variant"] != "engine":
            continue
        out.append({"id": r["id"], "corpus": r["corpus"], "answerable": r["answerable"], "correct": r["correct"],
                    "reasons": r.get("reasons") or [], "refused_by_rules": r["refused"],
                    "best_passage": float(r.get("best_passage") or 0.0), "evidence_score": float(r.get("evidence_score") or 0),
                    "pre_refused": r.get("states") is None,
                    "sufficiency": sufficiency.get(r["id"]), "correctness": correctness.get(r["id"])})
    return out


def of_corpus(records: list[dict], corpus: str | None) -> list[dict]:
    """The records of one eval set (all of them for None)."""
    return [r for r in records if corpus is None or r["corpus"] == corpus]


def ladder_figures(records: list[dict], ladder: Ladder, corpus: str | None = None) -> dict:
    chosen = of_corpus(records, corpus)
    return figures(chosen, [decide(r, ladder).decision for r in chosen])


def rules_figures(records: list[dict], corpus: str | None = None) -> dict:
    chosen = of_corpus(records, corpus)
    return figures(chosen, ["refused" if r["refused_by_rules"] else "shown" for r in chosen])


def _key(figs: dict) -> tuple:
    """Fewest wrong answers shown, then the best accuracy, then the fewest answerable items withheld."""
    return (-figs["wrong_shown"], figs["accuracy"], -figs["false_refusal"])


def floors(records: list[dict]) -> dict[str, float]:
    """Each eval set's accuracy bound: the rules' accuracy on it, less ACCURACY_SLACK."""
    return {c: rules_figures(records, c)["accuracy"] - ACCURACY_SLACK for c in CORPORA}


def _within(records: list[dict], decide_all, bounds: dict[str, float]) -> bool:
    return all(figures(rs, decide_all(rs))["accuracy"] >= bounds[c] - 1e-9
               for c in CORPORA if (rs := of_corpus(records, c)))


def _best(records: list[dict], rules: frozenset, use_correctness: bool, bounds: dict) -> tuple[tuple, Ladder]:
    best: tuple[tuple, Ladder] = ((-1e9,), Ladder(None, None, rules))
    for ts in GRID:
        for tc in (GRID if use_correctness else (None,)):
            ladder = Ladder(ts, tc, rules)
            figs = ladder_figures(records, ladder)
            if _key(figs) > best[0] and _within(records, lambda rs, lad=ladder: [decide(r, lad).decision for r in rs], bounds):
                best = (_key(figs), ladder)
    return best


def choose_ladder(records: list[dict], use_correctness: bool) -> Ladder:
    """The thresholds that show the fewest wrong answers on dev while each eval set's accuracy stays within
    ACCURACY_SLACK of the rules' (the issue's targets: wrong answers at least halved, accuracy not lower by more than
    0.02 on either set), then the word rules added one at a time while one improves that (none kept that does not)."""
    bounds = floors(records)
    score, ladder = _best(records, frozenset(), use_correctness, bounds)
    improved = True
    while improved:
        improved = False
        for rule in sorted(set(RULES) - ladder.rules - ALWAYS):
            trial_score, trial = _best(records, ladder.rules | {rule}, use_correctness, bounds)
            if trial_score > score:
                score, ladder, improved = trial_score, trial, True
    return ladder


# ---- the study -------------------------------------------------------------------------------------------------------
CORRECTNESS_LAYERS = (14, 17, 20, 23)


def _mean(values) -> float:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else 0.0


def dev_merit(row: dict) -> float:
    """How a configuration is chosen: the mean of its cross-validated and cross-set AUCs on dev, both eval sets."""
    return _mean([row.get(f"{fig} {c}") for fig in ("dev CV", "dev, other set's fit") for c in CORPORA])


def with_grounding(split: Split, scored: Scored) -> dict[str, float]:
    """The correctness probe combined with the draft's grounding by a logistic regression over the two, its out-of-
    fold dev scores (5 folds by question) and, for heldout, a fit on all of dev."""
    from sklearn.linear_model import LogisticRegression

    def rows(part: PromptSet, values: dict[str, float]) -> np.ndarray:
        probe = np.clip([values[r["id"]] for r in part.records], 1e-4, 1 - 1e-4)
        return np.column_stack([np.log(probe / (1 - probe)), part.values("grounding")])

    X, y = rows(split.dev, scored.dev), split.dev.y("correct")
    fold, out = folds_of(split.dev.groups(), y), {}
    for k in np.unique(fold):
        model = LogisticRegression().fit(X[fold != k], y[fold != k])
        out |= dict(zip(np.array(_ids(split.dev))[fold == k], model.predict_proba(X[fold == k])[:, 1]))
    model = LogisticRegression().fit(X, y)
    if len(split.heldout):
        out |= dict(zip(_ids(split.heldout), model.predict_proba(rows(split.heldout, scored.heldout))[:, 1]))
    return out


def rows_table(header: list[str], rows: list[list]) -> str:
    def cell(v):
        return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]) + "\n"


AUC_COLUMNS = [f"{fig} {c}" for fig in FIGURES for c in CORPORA]


def sufficiency_study(split: Split) -> tuple[dict[int, Scored], list[list], list[list]]:
    """Per layer: the probe at the prompt's end, its AUC for sufficiency (answerable with the answer in the passages
    vs unanswerable) and for answer presence (the answer in the passages vs taken out)."""
    scored, clean_rows, presence_rows = {}, [], []
    for layer in LAYERS:
        scored[layer] = score(split, "sufficient", "prompt_end", layer)
        clean = auc_rows(scored[layer], split, clean_pairs)
        presence = auc_rows(scored[layer], split, presence_pairs)
        inside = auc_of(scored[layer].train_heldout, training_pairs(split.train_heldout.records), None,
                        split.train_heldout.records)
        clean_rows.append([layer, dev_merit(clean)] + [clean[c] for c in AUC_COLUMNS] + [inside])
        presence_rows.append([layer] + [presence[c] for c in AUC_COLUMNS])
    return scored, clean_rows, presence_rows


def correctness_study(split: Split) -> tuple[dict[tuple[str, int], Scored], list[list]]:
    """Per feature and layer: the probe's AUC for a right draft against a wrong one (the engine's drafts)."""
    scored, rows = {}, []
    for feature in DRAFT_FEATURES:
        for layer in CORRECTNESS_LAYERS:
            scored[feature, layer] = score(split, "correct", feature, layer)
            row = auc_rows(scored[feature, layer], split, correct_pairs)
            rows.append([feature, layer, dev_merit(row)] + [row[c] for c in AUC_COLUMNS])
    return scored, rows


def _judge_decisions(records: list[dict], threshold: float) -> list[str]:
    return ["refused" if r["pre_refused"] or r["best_passage"] < threshold or r["refused_by_rules"] else "shown"
            for r in records]


def judge_ladder_figures(records: list[dict], corpus: str | None, threshold: float) -> dict:
    """The trained evidence judge as a gate before generating (its best passage below the threshold), the rules after."""
    chosen = of_corpus(records, corpus)
    return figures(chosen, _judge_decisions(chosen, threshold))


def comparison_rows(dev: list[dict], heldout: list[dict], ladders: dict[str, Ladder], judge_threshold: float) -> list:
    rows = []
    for part, records in (("dev (CV)", dev), ("heldout", heldout)):
        for corpus in CORPORA:
            judges = {"rules": rules_figures(records, corpus),
                      f"trained judge >= {judge_threshold:.2f}": judge_ladder_figures(records, corpus, judge_threshold)}
            judges |= {name: ladder_figures(records, ladder, corpus) for name, ladder in ladders.items()}
            for name, figs in judges.items():
                rows.append([part, corpus, name, figs["refusal"], figs["false_refusal"], figs["right_withheld"],
                             figs["accuracy"], figs["wrong_shown"], figs["n"]])
    return rows


def choose_judge_threshold(records: list[dict]) -> float:
    """The trained judge's gate threshold chosen as the ladder's: fewest wrong shown within the accuracy floor."""
    bounds, best = floors(records), ((-1e9,), 0.0)
    for t in (0.0,) + GRID:
        figs = judge_ladder_figures(records, None, t)
        if _key(figs) > best[0] and _within(records, lambda rs, t=t: _judge_decisions(rs, t), bounds):
            best = (_key(figs), t)
    return best[1]


def learning_curve(split: Split, label: str, feature: str, layer: int, pairs, sizes=(0, 100, 200, 400, 800, 1600)):
    """Dev CV AUC (both eval sets) against the number of training-corpus prompts in each fit, the first n of them in
    the order they were drawn (training.probe_questions shuffled them): where it flattens, more data buys nothing."""
    rows = []
    for n in [n for n in sizes if n <= len(split.train)] + ([len(split.train)] if len(split.train) not in sizes else []):
        part = PromptSet(split.train.name, split.train.records[:n], split.train.states[:n])
        y = split.dev.y(label)
        oof = out_of_fold(split.dev.X(feature, layer), y, folds_of(split.dev.groups(), y),
                          part.X(feature, layer) if n else None, part.y(label) if n else None)
        values = dict(zip(_ids(split.dev), oof))
        rows.append([n] + [auc_of(values, pairs(split.dev.records), c, split.dev.records) for c in CORPORA])
    return rows


# ---- the command -------------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    import argparse
    import json
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m training.train_probes", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="the bundled model whose states were kept")
    parser.add_argument("--save", action="store_true", help="write rag/answer/probes/<model>.json")
    parser.add_argument("--report", type=Path, default=Path(__file__).resolve().parent / "data" / "PROBES.md")
    args = parser.parse_args(argv)
    sets = load_sets(args.model)
    counts = {name: len(s.where()) for name, s in sets.items()}
    print(f"prompts with states: {counts}", flush=True)
    split = Split.of(sets)
    drafts = Split.of(sets, has_draft)

    suff_scored, clean_rows, presence_rows = sufficiency_study(split)
    layer = max(clean_rows, key=lambda row: row[1])[0]
    corr_scored, corr_rows = correctness_study(drafts)
    feature, corr_layer = max(corr_rows, key=lambda row: row[2])[:2]
    sufficiency, correctness = suff_scored[layer], corr_scored[feature, corr_layer]
    grounded = with_grounding(drafts, correctness)
    grounded_row = auc_rows(Scored(dev=grounded, heldout=grounded), drafts, correct_pairs)

    curve = learning_curve(split, "sufficient", "prompt_end", layer, clean_pairs)
    presence_curve = learning_curve(split, "sufficient", "prompt_end", layer, presence_pairs)
    correct_curve = learning_curve(drafts, "correct", feature, corr_layer, correct_pairs)
    evals = sets["docs"] + sets["seeds"]
    dev = ladder_records(evals.where(split="dev", stated=False), sufficiency.dev, correctness.dev)
    heldout = ladder_records(evals.where(split="heldout", stated=False), sufficiency.heldout, correctness.heldout)
    ladders = {"probes: sufficiency only": choose_ladder(dev, use_correctness=False),
               "probes: sufficiency + correctness": choose_ladder(dev, use_correctness=True)}
    judge_threshold = choose_judge_threshold(dev)
    compared = comparison_rows(dev, heldout, ladders, judge_threshold)

    baselines = []
    for name, values in (("evidence score", baseline(evals.records, "evidence_score")),
                         ("trained judge (best passage)", baseline(evals.records, "best_passage")),
                         ("rules (shown = 1)", rules_score(evals.records))):
        row = baseline_rows(values, split, clean_pairs)
        baselines.append([name] + [row.get(f"{part} {c}") for part in ("dev", "heldout") for c in CORPORA])
    report = [f"# The probes on the {args.model} model's states\n\n",
              "`python -m training.train_probes` on the prompts `python -m training.probe_states` kept: "
              f"{counts['training']} of the training corpus, {counts['docs']} of docs_qa, {counts['seeds']} of qa "
              "(dev and heldout; the heldout ones only measured).\n\n",
              "## Sufficiency at the prompt's end, by layer: answerable with the gold answer in the passages vs "
              "unanswerable (AUC)\n\n",
              rows_table(["layer", "dev merit"] + AUC_COLUMNS + ["training heldout packages"], clean_rows),
              f"\nChosen: layer {layer} (the best mean of the dev CV and other-set columns).\n",
              "\nBaselines on the same items (AUC, no fitting):\n\n",
              rows_table(["signal"] + [f"{p} {c}" for p in ("dev", "heldout") for c in CORPORA], baselines),
              "\n## Answer presence, by layer: the gold answer in the passages vs the same question with every passage "
              "holding it taken out (AUC)\n\n", rows_table(["layer"] + AUC_COLUMNS, presence_rows),
              "\n## Correctness of the draft, by feature and layer: right vs wrong drafts (AUC)\n\n",
              rows_table(["feature", "layer", "dev merit"] + AUC_COLUMNS, corr_rows),
              f"\nChosen: {feature} at layer {corr_layer}. Combined with grounding (logistic regression over the two): "
              + ", ".join(f"{k} {v:.3f}" for k, v in grounded_row.items() if v is not None and "training" not in k
                          and "other" not in k) + "\n",
              "\n## Dev CV AUC against the number of training-corpus prompts in each fit\n\n",
              rows_table(["training prompts"] + [f"sufficiency {c}" for c in CORPORA] + [f"presence {c}" for c in CORPORA],
                         [a + b[1:] for a, b in zip(curve, presence_curve)]), "\n",
              rows_table(["training prompts with a draft"] + [f"correctness {c}" for c in CORPORA], correct_curve),
              "\n## The decision ladder against the rules and the trained judge\n\n",
              "Thresholds chosen on dev's out-of-fold scores: the fewest wrong answers shown while accuracy stays within "
              f"{ACCURACY_SLACK:.2f} of the rules'. "
              + "; ".join(f"{name}: {ladder.describe()}" for name, ladder in ladders.items()) + "\n\n",
              rows_table(["split", "set", "judge", "refusal (unanswerable)", "false refusal", "right answers withheld",
                          "accuracy", "wrong shown", "items"], compared)]
    args.report.write_text("".join(report), encoding="utf-8")
    print("".join(report))
    chosen = ladders["probes: sufficiency + correctness"]
    if args.save:
        from training.probe_files import write_probe_file

        path = write_probe_file(args.model, split, drafts, (layer, chosen.sufficiency),
                                (feature, corr_layer, chosen.correctness), chosen.rules, report)
        print(f"saved {path}")
    print(json.dumps({"layer": layer, "correctness": [feature, corr_layer], "ladder": chosen.describe()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
