"""The trained judge's time per question, without generation: evidence with the rules and with the judge's scores,
interleaved over the first 20 docs questions, and three claims scored in one batch.

Example: python -m bench.judge_time
  -> {"evidence_rules_p50": 0.278, "evidence_trained_p50": 0.389, "claims3_p50": 0.039, "load": [...]}
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path


def main() -> None:
    from evals.dataset import load_items
    from rag.config import load_settings
    from rag.pipeline import Pipeline

    items = load_items(Path("evals/docs_qa.jsonl"))[:20]
    base = load_settings(seeds_dir="evals/corpora/docs", index_dir="evals/out/index-docs")
    rules = Pipeline(base.model_copy(update={"judge": "rules"}))
    trained = Pipeline(base.model_copy(update={"judge": "trained"}), embedder=rules.embedder, store=rules.store)
    for pipeline in (rules, trained):
        pipeline.evidence("warm up")
    timings: dict[str, list[float]] = {"evidence_rules": [], "evidence_trained": [], "claims3": []}
    for item in items:
        began = time.perf_counter()
        rules.evidence(item.question)
        timings["evidence_rules"].append(time.perf_counter() - began)
        began = time.perf_counter()
        evidence = trained.evidence(item.question)
        timings["evidence_trained"].append(time.perf_counter() - began)
        began = time.perf_counter()
        trained.judge.best_support([("It is the default value of the option.", [evidence[0].text])] * 3)
        timings["claims3"].append(time.perf_counter() - began)
    print(json.dumps({**{f"{k}_p50": round(statistics.median(v), 4) for k, v in timings.items()},
                      "load": os.getloadavg()}))


if __name__ == "__main__":
    main()
