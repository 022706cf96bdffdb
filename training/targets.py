"""The questions whose answers the evidence must hold, as presence targets (evals.presence.Target): the eval sets'
items and the training corpus's questions, each with the folders its documents and index are in.

Example: targets, where = eval_targets("docs", "dev")      # 52 targets; where["seeds_dir"] -> evals/corpora/docs
         targets, where = training_targets()              # 703 targets, grouped by package
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from evals.presence import Target

ROOT = Path(__file__).resolve().parents[1]


def eval_targets(corpus: str, split: str) -> tuple[list[Target], dict]:
    from evals.__main__ import CORPORA
    from evals.dataset import gold_spans, load_items, retrieval_query

    chosen = CORPORA[corpus]
    seeds_dir = chosen.seeds_dir or ROOT / "seeds"
    items = [i for i in load_items(chosen.dataset) if split == "all" or i.split == split]
    targets = [Target(i.id, retrieval_query(i), tuple(i.answers), tuple(map(tuple, i.key_terms)),
                      tuple(gold_spans(i, seeds_dir)) if not i.answers else (), i.split) for i in items]
    return targets, {"seeds_dir": seeds_dir, "index_dir": chosen.index_dir or ROOT / "index"}


def training_targets() -> tuple[list[Target], dict]:
    from training.corpus import CORPUS, INDEX
    from training.probe_questions import read

    questions = read()
    targets = [Target(q["id"], q["question"], tuple(q["answers"]), tuple(map(tuple, q.get("key_terms") or ())),
                      ((q["source"], *q["span"]),) if q.get("span") and not q["answers"] else (), q["package"])
               for q in questions]
    return targets, {"seeds_dir": CORPUS, "index_dir": INDEX}


@cache
def heldout_packages() -> frozenset[str]:
    """The training packages no shipped model is fitted on (their questions' split is "heldout"): like the eval sets'
    heldout split, they are only measured."""
    from training.probe_questions import read

    return frozenset(q["package"] for q in read() if q["split"] == "heldout")


UNANSWERABLE_PER_PACKAGE = 5


def packages_qa(packages: list[str]) -> list[dict]:
    """An eval set (evals/README.md's format) of the training questions of these packages that have a short answer,
    and the first UNANSWERABLE_PER_PACKAGE questions for a detail each package never gives: what `python -m evals
    --dataset` runs our engine and the starter recipe on, side by side."""
    from training.probe_questions import read

    questions = read()
    items = []
    for package in packages:
        own = [q for q in questions if q["package"] == package]
        for q in [q for q in own if q["answers"]] + [q for q in own if q["kind"] == "detail_absent"][:UNANSWERABLE_PER_PACKAGE]:
            items.append({"id": q["id"], "question": q["question"], "answers": q["answers"],
                          "sources": [q["source"]] if q["answers"] else [], "quotes": [],
                          "type": q["package"] if q["answers"] else "unanswerable",
                          "key_terms": q.get("key_terms") or [], "split": "heldout"})
    return items


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m training.targets", description="an eval set of training packages")
    parser.add_argument("--packages", required=True, help="comma-separated training packages")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    items = packages_qa(args.packages.split(","))
    args.out.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
    print(f"{len(items)} items ({sum(bool(i['answers']) for i in items)} answerable) -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
