"""Follow-up rewriting by each bundled model: how long it takes and whether retrieval then finds the gold quote.

Usage: python bench/rewrite.py [--models default,fast] [--split dev|heldout|all] [--index-dir DIR]
For every item of evals/qa.jsonl with a history: whether it depends on the conversation (rag.generate.followup; only those are
rewritten), the rewrite's time and outcome, and evidence hit (a passage found for what retrieval searched overlaps a
gold quote). Items that stand alone cost no model call; they are counted but not timed. Prints per model: how many
were rewritten, how many rewrites failed, evidence hit over the follow-ups, and p50/p95 rewrite seconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evals.dataset import gold_spans, load_items  # noqa: E402
from evals.metrics import percentile  # noqa: E402
from rag.config import load_settings  # noqa: E402
from rag.generate.followup import standalone_question  # noqa: E402
from rag.generate.load import load_llm  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def overlaps(item, spans) -> bool:
    return any(item.source == s and item.start < e and b < item.end for s, b, e in spans)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="default,fast")
    parser.add_argument("--split", choices=["dev", "heldout", "all"], default="all")
    parser.add_argument("--index-dir")
    args = parser.parse_args()
    items = [i for i in load_items(ROOT / "evals" / "qa.jsonl") if i.history and args.split in ("all", i.split)]
    for model in args.models.split(","):
        settings = load_settings(model=model, index_dir=args.index_dir)
        pipeline = Pipeline(settings)
        pipeline.index(progress=False)
        llm = load_llm(settings)
        standalone_question(llm, "When did he arrive?", [{"role": "user", "content": "Who visited?"},
                                                          {"role": "assistant", "content": "Blinken."}])  # warm-up
        seconds, outcomes, hits = [], [], []
        for item in items:
            began = time.perf_counter()
            result = standalone_question(llm, item.question, item.history)
            if result.reason.startswith("rewrit"):
                seconds.append(time.perf_counter() - began)
            outcomes.append(result.reason.split(":")[0])
            if item.answerable and item.type == "followup":
                spans = gold_spans(item, settings.seeds_dir)
                hits.append(any(overlaps(e, spans) for e in pipeline.evidence(result.search)))
        counts = {o: outcomes.count(o) for o in sorted(set(outcomes))}
        timing = (f"rewrite p50 {percentile(seconds, 0.5):.2f} s p95 {percentile(seconds, 0.95):.2f} s (mean "
                  f"{statistics.mean(seconds):.2f})" if seconds else "no rewrites")
        print(f"{model}: {len(items)} items with history {counts}; follow-up evidence hit "
              f"{sum(hits)}/{len(hits)}; {timing}", flush=True)


if __name__ == "__main__":
    main()
