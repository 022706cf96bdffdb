"""bench/RESULTS.md, bench/scale_latency.png and bench/scale_results.json from the sizes bench/scale.py has measured.

Usage: python bench/scale.py --report-only   (or called at the end of every bench/scale.py run)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MODES = ("dense", "bm25", "hybrid", "evidence")
BOUNDS = """\
## What bounds each figure

- **Indexing throughput** is the embedding model: all-MiniLM-L6-v2 on the CPU cores, batches of 32. The
  "embedding share" column is the time spent inside the embedder's batch call; the rest (reading, hashing,
  chunking, Chroma writes, the file record, repair before and after) is what the pipeline adds.
- **Re-run over an unchanged corpus** is a scan: every file is read and hashed and compared with the store's file
  records; nothing is embedded. It is what a resumed run pays before it continues.
- **BM25 rebuild** runs once after an index change (never per query, never per start): every chunk is read back from
  Chroma, tokenised and stemmed, and the score matrix is built and saved under `index/bm25/`.
- **Start** is what a fresh process pays before its first answer, apart from loading models: opening the store and
  loading the persisted BM25 index (the score matrix and the chunk texts it returns).
- **dense**: one query embedding (the fixed cost: see the query-embedding column) plus Chroma's HNSW search, which
  grows roughly with log(corpus).
- **bm25**: tokenising the question plus summing the score-matrix columns of its terms: linear in how many chunks
  hold those terms. The synthetic corpus reuses ~250 seed sentences, so its vocabulary is tiny and every common
  query term occurs in a large share of all chunks: a pessimistic case for BM25 compared with real documents.
- **hybrid**: dense + bm25 + relative-score fusion of 2 x top_k results.
- **evidence**: hybrid, then every sentence of the top_k chunks embedded (cold cache: a question never asked
  before) and scored; it does not grow with the corpus, only with top_k and chunk size.
- Memory: the embedding model and PyTorch (~0.9 GB) dominate; the BM25 matrix and its chunk texts add the part
  that grows with the corpus.
"""


def _load(folder: Path) -> dict | None:
    index, probe = folder / "index.json", folder / "probe.json"
    if not (index.exists() and probe.exists()):
        return None
    return {"index": json.loads(index.read_text()), "probe": json.loads(probe.read_text())}


def _throughput(sessions: list[dict]) -> tuple[float, float, float]:
    """(chunks/s, embedding share, non-embedding seconds per 1,000 chunks) over the sessions that embedded."""
    working = [s for s in sessions if s.get("embedded")]
    chunks = sum(s["embedded"] for s in working)
    seconds = sum(s["seconds"] for s in working)
    embed = sum(s["embed_seconds"] for s in working)
    if not chunks or not seconds:
        return 0.0, 0.0, 0.0
    return chunks / seconds, embed / seconds, (seconds - embed) / chunks * 1000


def _rows(results: dict[int, dict]) -> tuple[list[str], list[str]]:
    indexing = ["| chunks | files | sessions | chunks/s | embedding share | other s per 1k chunks | re-run unchanged s | "
                "BM25 rebuild s | index MB (chroma + texts + bm25) | peak RSS MB | load |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|"]
    retrieval = ["| chunks | start s (store + BM25 load) | first question s | dense p50 / p95 ms | bm25 p50 / p95 ms | "
                 "hybrid p50 / p95 ms | evidence p50 / p95 ms | of dense: question embedding / Chroma search p50 ms | "
                 "serving peak RSS MB | load |",
                 "|---:|---|---:|---|---|---|---|---|---:|---|"]
    for _, r in sorted(results.items()):
        index, probe = r["index"], r["probe"]
        sessions = index["sessions"]
        rate, share, other = _throughput(sessions)
        idle = [s["seconds"] for s in sessions if s.get("finished") and not s.get("embedded")]
        disk = index["disk_mb"]
        loads = [s["load_before"] for s in sessions if s.get("embedded")]
        indexing.append(
            f"| {index['chunks']:,} | {index['files']:,} | {len([s for s in sessions if s.get('embedded')])} | {rate:.1f} | "
            f"{share:.0%} | {other:.1f} | {idle[-1] if idle else '-'} | {index['bm25_rebuild_s']} | "
            f"{sum(disk.values()):.0f} ({disk['chroma']:.0f} + {disk['texts']:.0f} + {disk['bm25']:.0f}) | "
            f"{max(s['peak_rss_mb'] for s in sessions)} | {min(loads, default=0):.1f}-{max(loads, default=0):.1f} |")
        modes = probe["modes"]
        retrieval.append(
            f"| {index['chunks']:,} | {probe['start_store_s'] + probe['start_bm25_load_s']:.2f} "
            f"({probe['start_store_s']:.2f} + {probe['start_bm25_load_s']:.2f}) | {probe['first_query_s']:.1f} | "
            + " | ".join(f"{modes[m]['p50_ms']:.0f} / {modes[m]['p95_ms']:.0f}" for m in MODES)
            + f" | {probe['query_embedding']['p50_ms']:.0f} / {probe.get('dense_search', {}).get('p50_ms', '-')} | "
            f"{probe['serving_peak_rss_mb']} | "
            f"{probe['load_before']:.1f}-{probe['load_after']:.1f} |")
    return indexing, retrieval


def _plot(results: dict[int, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(results)
    chunks = [results[s]["index"]["chunks"] for s in sizes]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for mode, colour in zip(MODES, ("tab:blue", "tab:orange", "tab:green", "tab:grey")):
        modes = [results[s]["probe"]["modes"][mode] for s in sizes]
        ax.plot(chunks, [m["p50_ms"] for m in modes], "o-", color=colour, label=f"{mode} p50")
        ax.plot(chunks, [m["p95_ms"] for m in modes], "x--", color=colour, alpha=0.6, label=f"{mode} p95")
    ax.axhline(50, color="red", linewidth=0.8, linestyle=":", label="goal: hybrid p50 50 ms")
    ax.set(xscale="log", yscale="log", xlabel="chunks in the index", ylabel="latency per question (ms)",
           title="Retrieval latency against corpus size (2 CPU cores)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(out: Path, bench: Path) -> None:
    results = {int(p.name): r for p in out.iterdir() if p.name.isdigit() and (r := _load(p))} if out.is_dir() else {}
    if not results:
        print("nothing measured yet")
        return
    (bench / "scale_results.json").write_text(json.dumps({str(k): v for k, v in sorted(results.items())}, indent=1))
    _plot(results, bench / "scale_latency.png")
    indexing, retrieval = _rows(results)
    text = "\n".join([
        "# Scale results", "",
        "Written by `python bench/scale.py` (raw numbers: `scale_results.json`). Synthetic corpora of seed sentences in",
        f"seeded random order, every chunk text distinct; chunks of 128 tokens; {os.cpu_count()} CPU cores, shared with",
        "other jobs (the load columns give the 1-minute load average around each measurement).", "",
        "## Indexing", "", *indexing, "",
        "## Retrieval (fresh process; 106 questions of evals/qa.jsonl per mode, after one warm-up)", "", *retrieval, "",
        "![latency against corpus size](scale_latency.png)", "", BOUNDS])
    (bench / "RESULTS.md").write_text(text)
    print(f"wrote {bench / 'RESULTS.md'}")
