"""One serving process over a scale corpus (run by bench/scale.py): start cost, retrieval latency per mode, memory.

Usage: python bench/scale_probe.py bench/out/scale/10000    -> one JSON line on stdout
Queries: every question of evals/qa.jsonl, in file order; one warm-up query per mode is not counted.
"evidence" is the full selection the answer engine uses (hybrid chunks, then sentences), with an empty sentence cache
per question, as for a question never asked before.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evals.dataset import load_items  # noqa: E402
from rag.config import load_settings  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.search.evidence import SentenceVectors, select_evidence  # noqa: E402


def peak_rss_mb() -> int:
    """This process's peak resident memory (VmHWM: getrusage's maxrss would carry over the parent's peak across exec)."""
    status = Path("/proc/self/status").read_text()
    return round(int(status.split("VmHWM:")[1].split()[0]) / 1024)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def summary(seconds: list[float]) -> dict:
    return {"p50_ms": round(statistics.median(seconds) * 1000, 1), "p95_ms": round(percentile(seconds, 0.95) * 1000, 1),
            "n": len(seconds)}


def main() -> None:
    folder = Path(sys.argv[1])
    settings = load_settings(seeds_dir=str(folder / "seeds"), index_dir=str(folder / "index"), data_dir=str(folder / "data"))
    questions = [item.question for item in load_items(ROOT / "evals" / "qa.jsonl")]
    pipeline = Pipeline(settings)
    result: dict = {"load_before": os.getloadavg()[0]}
    result["embedder_load_s"] = round(timed(lambda: pipeline.embedder), 2)
    retriever = pipeline.retriever
    # start: what a fresh process does before its first answer, apart from loading models
    result["start_store_s"] = round(timed(pipeline.store.require_index), 3)
    result["start_bm25_load_s"] = round(timed(retriever.bm25), 3)
    result["first_query_s"] = round(timed(lambda: pipeline.evidence(questions[0])), 3)
    result["per_query_version_check_ms"] = round(statistics.median(timed(pipeline.store.version) for _ in range(10)) * 1000, 1)
    # every question through every measure in turn, so a change in the machine's load hits all measures alike
    chunks = pipeline.store.chunks
    measures = {
        "query_embedding": lambda q: pipeline.embedder.get_query_embedding(q),  # the fixed part of "dense"
        "dense_search": lambda q: chunks.query(query_embeddings=[vectors[q]], n_results=settings.top_k),  # the growing part
        **{mode: (lambda q, m=mode: retriever.retrieve(q, mode=m)) for mode in ("dense", "bm25", "hybrid")},
        "evidence": lambda q: select_evidence(q, retriever.retrieve(q), SentenceVectors(pipeline.embedder),
                                              settings.evidence_k),
    }
    vectors = {q: pipeline.embedder.get_query_embedding(q) for q in questions[:1]}
    for measure in measures.values():  # warm-up, not counted
        measure(questions[0])
    seconds: dict[str, list[float]] = {name: [] for name in measures}
    for question in questions:
        vectors[question] = pipeline.embedder.get_query_embedding(question)
        for name, measure in measures.items():
            seconds[name].append(timed(lambda m=measure, q=question: m(q)))
    result["modes"] = {name: summary(seconds[name]) for name in ("dense", "bm25", "hybrid", "evidence")}
    result["query_embedding"] = summary(seconds["query_embedding"])
    result["dense_search"] = summary(seconds["dense_search"])
    result["serving_peak_rss_mb"] = peak_rss_mb()
    result["load_after"] = os.getloadavg()[0]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
