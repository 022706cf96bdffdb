"""The questions whose answers the evidence must hold, as presence targets (evals.presence.Target): the eval sets'
items and the training corpus's questions, each with the folders its documents and index are in.

Example: targets, where = eval_targets("docs", "dev")      # 52 targets; where["seeds_dir"] -> evals/corpora/docs
         targets, where = training_targets()              # 703 targets, grouped by package
"""

from __future__ import annotations

import json
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
    from training.probe_questions import OUT

    questions = [json.loads(line) for line in OUT.read_text(encoding="utf-8").splitlines() if line.strip()]
    targets = [Target(q["id"], q["question"], tuple(q["answers"]), tuple(map(tuple, q.get("key_terms") or ())),
                      ((q["source"], *q["span"]),) if q.get("span") and not q["answers"] else (), q["package"])
               for q in questions]
    return targets, {"seeds_dir": CORPUS, "index_dir": INDEX}
