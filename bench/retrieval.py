"""Retrieval quality and latency on an eval set: dense, BM25 and hybrid, and evidence windows within one text budget.

Usage: python bench/retrieval.py [--corpus seeds|docs] [--modes hybrid] [--windows unit,next,around]
                                 [--budgets 400,640,960] [--k 12] [--split dev]
Prints, per mode, window and budget (characters of passage text given to the model): source hit@5 (a gold file among
the top-5 chunks' files), evidence hit (a passage overlaps a gold quote), answer shown (a passage contains a gold
answer, normalised as the evals score answers), mean passages and characters, and p50/p95 latency of retrieval plus
evidence selection. Windows compete within the same budget: a wider window means fewer passages.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evals.__main__ import CORPORA  # noqa: E402
from evals.dataset import gold_spans, load_items, retrieval_query  # noqa: E402
from evals.metrics import contains_answer  # noqa: E402
from rag.config import load_settings  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402


def overlaps(item, spans) -> bool:
    return any(item.source == s and item.start < e and b < item.end for s, b, e in spans)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="seeds")
    parser.add_argument("--modes", default="hybrid")
    parser.add_argument("--windows", default="unit,next,around")
    parser.add_argument("--budgets", default="640")
    parser.add_argument("--k", type=int, default=12, help="passages at most; the budget usually binds first")
    parser.add_argument("--split", choices=["dev", "heldout", "all"], default="dev")
    parser.add_argument("--chunk-size", type=int)
    parser.add_argument("--chunk-overlap", type=int)
    parser.add_argument("--index-dir")
    args = parser.parse_args()
    corpus = CORPORA[args.corpus]
    settings = load_settings(chunk_size=args.chunk_size, chunk_overlap=args.chunk_overlap, seeds_dir=corpus.seeds_dir,
                             index_dir=args.index_dir or corpus.index_dir)
    pipeline = Pipeline(settings)
    pipeline.index(progress=False)
    items = [item for item in load_items(corpus.dataset) if item.answerable and args.split in ("all", item.split)]
    spans = {item.id: gold_spans(item, settings.seeds_dir) for item in items}
    print(f"{args.corpus} ({args.split}): {len(items)} answerable items, chunking {settings.chunking}, k={args.k}, "
          f"top_k={settings.top_k}")
    for mode in args.modes.split(","):
        retrieved = {}
        for item in items:
            began = time.perf_counter()
            chunks = pipeline.retriever.retrieve(retrieval_query(item), mode=mode)
            retrieved[item.id] = (chunks, time.perf_counter() - began)
        for window in args.windows.split(","):
            for budget in map(int, args.budgets.split(",")):
                hits = shown = source_hits = 0
                sizes, counts, latencies = [], [], []
                for item in items:
                    chunks, seconds = retrieved[item.id]
                    began = time.perf_counter()
                    evidence = pipeline.select(retrieval_query(item), chunks, args.k, window, budget)
                    latencies.append(seconds + time.perf_counter() - began)
                    ranked = list(dict.fromkeys(c.node.metadata["source"] for c in chunks))[:5]
                    source_hits += any(s in item.sources for s in ranked)
                    hits += any(overlaps(e, spans[item.id]) for e in evidence)
                    shown += any(contains_answer(f"{e.header()} {e.text}", item.answers) for e in evidence)
                    counts.append(len(evidence))
                    sizes.append(sum(len(e.text) for e in evidence))
                latencies.sort()
                n = len(items)
                print(f"{mode:6s} {window:6s} budget {budget:5d}: source hit@5 {source_hits / n:.3f}  evidence hit "
                      f"{hits / n:.3f}  answer shown {shown / n:.3f}  passages {statistics.mean(counts):.1f}  chars "
                      f"{statistics.mean(sizes):.0f}  p50 {statistics.median(latencies) * 1000:.0f} ms  "
                      f"p95 {latencies[int(0.95 * (n - 1))] * 1000:.0f} ms", flush=True)


if __name__ == "__main__":
    main()
