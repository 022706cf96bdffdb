"""Retrieval quality and latency on the eval set, for dense, BM25 and hybrid in one run.

Usage: python bench/retrieval.py [--dataset evals/qa.jsonl] [--k 5]
Prints, per mode: source hit@k (a gold file among the top-k chunks), evidence hit@k (a top-k evidence sentence
overlaps a gold quote), MRR on sources, and p50/p95 latency of a full evidence selection.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evals.dataset import gold_spans, load_items, retrieval_query  # noqa: E402
from rag.config import load_settings  # noqa: E402
from rag.evidence import select_evidence  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402


def overlaps(item, spans) -> bool:
    return any(item.source == s and item.start < e and b < item.end for s, b, e in spans)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="evals/qa.jsonl")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--chunk-size", type=int)
    parser.add_argument("--chunk-overlap", type=int)
    parser.add_argument("--index-dir")
    args = parser.parse_args()
    settings = load_settings(chunk_size=args.chunk_size, chunk_overlap=args.chunk_overlap, index_dir=args.index_dir)
    pipeline = Pipeline(settings)
    pipeline.index(progress=False)
    items = [item for item in load_items(Path(args.dataset)) if item.answerable]
    print(f"{len(items)} answerable items, chunking {settings.chunking}, k={args.k}, top_k={settings.top_k}")
    for mode in ("dense", "bm25", "hybrid"):
        source_hits = evidence_hits = 0
        reciprocal, latencies = [], []
        for item in items:
            query, spans = retrieval_query(item), gold_spans(item, settings.seeds_dir)
            began = time.perf_counter()
            chunks = pipeline.retriever.retrieve(query, mode=mode)
            evidence = select_evidence(query, chunks, pipeline.sentence_vectors, args.k)
            latencies.append(time.perf_counter() - began)
            ranked = list(dict.fromkeys(c.node.metadata["source"] for c in chunks))[: args.k]
            source_hits += any(s in item.sources for s in ranked)
            reciprocal.append(next((1 / r for r, s in enumerate(ranked, 1) if s in item.sources), 0.0))
            evidence_hits += any(overlaps(e, spans) for e in evidence)
        latencies.sort()
        print(f"{mode:7s} source hit@{args.k} {source_hits / len(items):.3f}  evidence hit@{args.k} "
              f"{evidence_hits / len(items):.3f}  MRR {statistics.mean(reciprocal):.3f}  "
              f"p50 {statistics.median(latencies) * 1000:.0f} ms  p95 {latencies[int(0.95 * (len(latencies) - 1))] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
