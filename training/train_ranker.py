"""Train and validate the unit ranker (rag/search/ranker.py) leave-one-corpus-out.

Example: python -m training.train_ranker                 # validate: each corpus held out in turn, print the table
         python -m training.train_ranker --save          # then fit and write rag/search/ranker.json
  -> training/data/RANKER.md: presence (the answer in the first look, in both looks) per held-out corpus, hand-set
     weights against the ranker, mean and worst corpus
Questions: the training corpus's answerable questions (training/data/probe_questions.jsonl: drafted items with a
short answer, definition terms and FAQ headings with the span that answers them) and the eval sets' dev split. A
corpus is a training package, the docs set or the seed set. A unit is labelled 1 when it, read with its window and
its headings, holds the answer (evals.presence.holds; for an item with key terms, half its groups). Each held-out
corpus is ranked by a ranker fitted on all the others. The shipped ranker is fitted on every corpus but the eval
sets' heldout split and the training corpus's heldout packages (training.targets.heldout_packages): those are only
measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from datetime import UTC, datetime

import numpy as np

from evals.metrics import key_term_recall
from evals.presence import Target, as_pieces, holds, stage_presence
from training.questions import HERE

OUT = HERE / "out" / "ranker"
REPORT = HERE / "data" / "RANKER.md"
C = 1.0
SEED = 20261206


def positive(target: Target, piece) -> bool:
    if holds(target, [piece]):
        return True
    return bool(target.key_terms) and key_term_recall(piece[3], target.key_terms) >= 0.5


def corpora(split: str = "dev") -> list[tuple[str, list[Target], dict]]:
    """(name, targets, where) for the training corpus and both eval sets' split; targets carry their corpus as group
    (a training question's package)."""
    from training.targets import eval_targets, training_targets

    found = [("training", *training_targets())]
    for name in ("docs", "seeds"):
        targets, where = eval_targets(name, split)
        found.append((name, [Target(t.id, t.question, t.answers, t.key_terms, t.spans, name) for t in targets], where))
    return found


def pipeline_for(where: dict, embedder, **settings):
    from rag.config import load_settings
    from rag.pipeline import Pipeline

    pipeline = Pipeline(load_settings(seeds_dir=where["seeds_dir"], index_dir=where["index_dir"], **settings),
                        embedder=embedder)
    pipeline.index(progress=False)
    return pipeline


def unit_rows(pipeline, target: Target) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of every candidate unit of the question's retrieved chunks, windowed as the settings say."""
    from rag.search.evidence import _window, candidates
    from rag.search.features import unit_features

    found = candidates(pipeline.retriever.retrieve(target.question), pipeline.document)
    features = unit_features(target.question, found, pipeline.sentence_vectors)
    labels = []
    for unit in found:
        start, end, _ = _window(unit, pipeline.settings.evidence_window) if unit.document else (unit.start, unit.end, ())
        text = unit.document[start:end] if unit.document else unit.text
        labels.append(positive(target, (unit.source, start, end, f"{unit.place}\n{text}")))
    return features, np.asarray(labels, dtype=np.int8)


def fit(X: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    from rag.search.features import FEATURES
    from rag.search.ranker import Ranker

    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=5000, random_state=SEED).fit((X - mean) / scale, y)
    return Ranker(FEATURES, mean.astype(np.float32), scale.astype(np.float32), model.coef_[0].astype(np.float32),
                  float(model.intercept_[0]))


def presence(pipeline, target: Target, ranker, count) -> dict:
    from rag.answer.looks import fit_looks
    from rag.search.evidence import select_evidence

    settings = pipeline.settings
    chunks = pipeline.retriever.retrieve(target.question)
    ranked = select_evidence(target.question, chunks, pipeline.sentence_vectors, 2 * settings.evidence_k,
                             pipeline.document, settings.evidence_window, 8 * settings.evidence_tokens, ranker)
    looks = fit_looks(target.question, ranked, count, (settings.evidence_tokens, settings.second_look_tokens),
                      settings.n_ctx - settings.max_tokens - 16, k=settings.evidence_k)
    chunk_pieces = [(c.node.metadata["source"], 0, 0, c.node.text) for c in chunks]
    return stage_presence(target, chunk_pieces, as_pieces(ranked), [as_pieces(look.passages) for look in looks])


def summary(rows: list[dict]) -> dict:
    """Presence in the first look and in both looks: per held-out corpus, the mean over corpora and the worst, the
    mean over the training packages, and each eval set."""
    groups = defaultdict(list)
    for row in rows:
        groups[row["group"]].append(row)
    shares = {g: {s: statistics.mean(r[s] for r in members) for s in ("first_look", "looks")} | {"n": len(members)}
              for g, members in sorted(groups.items())}
    packages = [g for g in shares if g not in ("docs", "seeds")]
    out = {"corpora": shares}
    for stage in ("first_look", "looks"):
        worst = min(shares, key=lambda g: shares[g][stage])
        out[stage] = {"mean": statistics.mean(s[stage] for s in shares.values()), "worst": (worst, shares[worst][stage]),
                      "packages": statistics.mean(shares[g][stage] for g in packages),
                      **{name: shares[name][stage] for name in ("docs", "seeds") if name in shares}}
    return out


def headline(label: str, table: dict) -> str:
    return "  ".join(f"{label} {stage}: mean {t['mean']:.3f} worst {t['worst'][1]:.3f} ({t['worst'][0]}) packages "
                     f"{t['packages']:.3f} docs {t.get('docs', 0):.3f} seeds {t.get('seeds', 0):.3f}"
                     for stage, t in ((s, table[s]) for s in ("first_look", "looks")))


def report(tables: dict[str, dict], command: str) -> str:
    """RANKER.md: presence per held-out corpus, hand-set weights against the ranker."""
    hand, ranker = tables["hand"], tables["ranker"]
    lines = ["# The unit ranker, validated leave-one-corpus-out", "",
             f"`{command}` (training/train_ranker.py). Each corpus (a training package, the docs set's dev split, the "
             "seed set's dev split) is ranked by a ranker fitted on all the others; presence is the gold answer (every "
             "key term; a term's or FAQ heading's answering span) in the passages the model reads, headers included "
             "(evals/presence.py).", "",
             "| held-out corpus | questions | first look, hand-set | first look, ranker | both looks, hand-set | "
             "both looks, ranker |", "|---|---|---|---|---|---|"]
    for corpus, shares in hand["corpora"].items():
        other = ranker["corpora"][corpus]
        lines.append(f"| {corpus} | {shares['n']} | {shares['first_look']:.3f} | {other['first_look']:.3f} | "
                     f"{shares['looks']:.3f} | {other['looks']:.3f} |")
    for label, key in (("mean over corpora", "mean"), ("mean over training packages", "packages")):
        lines.append(f"| **{label}** | | {hand['first_look'][key]:.3f} | {ranker['first_look'][key]:.3f} | "
                     f"{hand['looks'][key]:.3f} | {ranker['looks'][key]:.3f} |")
    worst = {s: {t: tables[t][s]["worst"] for t in tables} for s in ("first_look", "looks")}
    lines.append(f"| **worst corpus** | | {worst['first_look']['hand'][1]:.3f} ({worst['first_look']['hand'][0]}) | "
                 f"{worst['first_look']['ranker'][1]:.3f} ({worst['first_look']['ranker'][0]}) | "
                 f"{worst['looks']['hand'][1]:.3f} ({worst['looks']['hand'][0]}) | "
                 f"{worst['looks']['ranker'][1]:.3f} ({worst['looks']['ranker'][0]}) |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.train_ranker", description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help="fit on every corpus and write rag/search/ranker.json")
    parser.add_argument("--settings", default="", help="evidence settings, e.g. top_k=10,evidence_window=around")
    args = parser.parse_args(argv)
    argv = argv if argv is not None else __import__("sys").argv[1:]
    from bench.presence import parse_config
    from rag.config import load_settings
    from rag.generate.load import token_counter
    from rag.search.ranker import RANKER
    from training.targets import heldout_packages

    settings = parse_config(args.settings)
    count, embedder = token_counter(load_settings()), None
    data = []  # (corpus, group, target, pipeline, X, y)
    pipelines = {}
    for name, targets, where in corpora():
        pipelines[name] = pipeline = pipeline_for(where, embedder, **settings)
        embedder = pipeline.embedder
        for target in targets:
            if target.answerable:
                X, y = unit_rows(pipeline, target)
                data.append((name, target.group, target, X, y))
    groups = sorted({group for _, group, *_ in data})
    rows = []
    for held in groups:
        train = [(X, y) for _, group, _, X, y in data if group != held and len(X)]
        ranker = fit(np.concatenate([X for X, _ in train]), np.concatenate([y for _, y in train]))
        for name, group, target, _, _ in data:
            if group == held:
                for label, used in (("hand", None), ("ranker", ranker)):
                    rows.append({"corpus": name, "group": group, "id": target.id, "ranker": label,
                                 **presence(pipelines[name], target, used, count)})
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "loco.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    tables = {label: summary([r for r in rows if r["ranker"] == label]) for label in ("hand", "ranker")}
    for label, table in tables.items():
        print(headline(label, table), flush=True)
    REPORT.write_text(report(tables, "python -m training.train_ranker " + " ".join(argv or [])), encoding="utf-8")
    if args.save:  # every corpus but the training corpus's heldout packages, which stay unseen (only measured)
        unseen = heldout_packages()
        everything = [(X, y) for _, group, _, X, y in data if len(X) and group not in unseen]
        ranker = fit(np.concatenate([X for X, _ in everything]), np.concatenate([y for _, y in everything]))
        first, both = tables["ranker"]["first_look"], tables["ranker"]["looks"]
        card = {"trained": datetime.now(UTC).isoformat(timespec="seconds"), "command": "python -m training.train_ranker --save",
                "data": "the training corpus's answerable questions (training/data/probe_questions.jsonl) but those of its "
                        f"heldout packages ({', '.join(sorted(unseen))}), and the eval sets' dev split",
                "validation": "leave-one-corpus-out (each training package, docs dev, seeds dev held out in turn): presence "
                              f"in the first look, mean over held-out corpora {tables['hand']['first_look']['mean']:.3f} "
                              f"(hand-set weights) -> {first['mean']:.3f}, worst {first['worst'][1]:.3f} "
                              f"({first['worst'][0]}); both looks {tables['hand']['looks']['mean']:.3f} -> "
                              f"{both['mean']:.3f} (training/data/RANKER.md)"}
        RANKER.write_text(json.dumps({**ranker.to_json(), "card": card}, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {RANKER}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
