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

- **Indexing throughput** is the embedding model (all-MiniLM-L6-v2 on the CPU, batches of 32): the "embedding
  share" column is the time inside the embedder's batch call. The rest (reading, hashing and chunking files, Chroma
  writes, the check for leftovers of a crash) is a few percent up to 10k chunks and 14% at 100k, where Chroma's
  HNSW inserts slow as the graph grows (the embedding bar fell from ~72 to ~55 chunks/s over the 100k run). Files
  are committed in groups of >= 256 chunks, because every Chroma write costs ~30-40 ms whatever its size (per-file
  commits made it 6-20% of the time).
  A run stopped by Ctrl-C or `kill -9` keeps every committed group; the next run re-reads all files (the re-run
  column; "-" where a size was indexed in one session) and embeds only what is missing. Load matters more than
  size: an earlier run of the 1k and 10k sizes beside another job embedded 10-15 chunks/s, 4-6 times slower than
  these quiet rows, and with another process busy 2 torch threads embed slower than 1 (6.2 vs 10.5 chunks/s for
  a batch of 32).
- **BM25 rebuild** happens once per index run that changed something, at its end (`Pipeline.index`), never per
  question or per start: every chunk is read back from Chroma (13.6 of the 18.4 s at 100k; in pages of 10,000,
  because Chroma's SQLite cannot return more than 32,766 records' metadata at once), tokenised and stemmed, and
  the score matrix is saved under `index/bm25/`. It grows linearly with the corpus. Another process answering
  while an index run goes on rebuilds at most once during that run (the store's version token changes as a run
  starts and ends, not per commit).
- **Start** is what a fresh process pays before its first question, apart from loading models: opening Chroma and
  memory-mapping the persisted BM25 index (constant: its arrays and chunk texts are read only when a question
  needs them). **First question** adds Chroma loading its vector index and the first pass through the models.
- **dense** = embedding the question + Chroma's HNSW search. The search is the part that grows with the corpus
  (a few ms); the question embedding is a fixed ~13-25 ms on one thread, but with 2 torch threads on a machine
  where another process keeps a core busy it took 100-400 ms in an earlier run of the 1k and 10k sizes (threads
  wait for each other; hybrid p50 142-420 ms against 29-30 ms on 1 thread). On a quiet machine 2 threads are the
  faster (8-9 vs 12-13 ms), so the app keeps 2; `RAG_N_THREADS=1` is the setting for a machine that is busy.
- **bm25**: tokenising the question and summing the score columns of its terms. The synthetic corpus reuses ~250
  seed sentences, so its vocabulary is tiny and every common query word occurs in a large share of all chunks: a
  pessimistic case for BM25 compared with real documents; it still stays at a few ms.
- **hybrid** ~ dense + bm25: the relative-score fusion of the two top-6 lists adds nothing measurable.
- **evidence** (what the answer engine uses) = hybrid, then every sentence of the 6 chunks embedded (cold cache: a
  question never asked before) and ranked. It does not grow with the corpus; it is bound by embedding ~30-40
  sentences, so it follows the thread setting like dense.
- **Memory**: the embedding model and PyTorch (~0.9 GB) dominate serving, plus Chroma's HNSW graph as it grows
  (~0.3 GB at 100k); BM25 adds little because it is memory-mapped. Indexing holds the texts and chunks of every
  file still to embed, so its peak grows with the batch indexed (the 100k row's 2,975 MB was measured before
  indexing let go of each group's vectors once committed: ~12 KB of Python floats per chunk).
- The load column is the 1-minute load average before and after each measurement (2 = the bench's own threads):
  every row here was measured on a quiet machine (load below 2), so the rows compare with each other.
"""


def _load(folder: Path) -> dict | None:
    index, probe = folder / "index.json", folder / "probe.json"
    if not (index.exists() and probe.exists()):
        return None
    one = folder / "probe_1thread.json"
    return {"index": json.loads(index.read_text()), "probe": json.loads(probe.read_text()),
            "probe_1thread": json.loads(one.read_text()) if one.exists() else None}


def _throughput(sessions: list[dict]) -> tuple[float, float, float]:
    """(chunks/s, embedding share, non-embedding seconds per 1,000 chunks) over the sessions that embedded."""
    working = [s for s in sessions if s.get("embedded")]
    chunks = sum(s["embedded"] for s in working)
    seconds = sum(s["seconds"] for s in working)
    embed = sum(s["embed_seconds"] for s in working)
    if not chunks or not seconds:
        return 0.0, 0.0, 0.0
    return chunks / seconds, embed / seconds, (seconds - embed) / chunks * 1000


def _indexing_rows(results: dict[int, dict]) -> list[str]:
    rows = ["| chunks | files | sessions | chunks/s | embedding share | other s per 1k chunks | re-run unchanged s | "
            "BM25 rebuild s | index MB (chroma + texts + bm25) | peak RSS MB | load |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|"]
    for _, r in sorted(results.items()):
        index = r["index"]
        sessions = index["sessions"]
        rate, share, other = _throughput(sessions)
        idle = [s["seconds"] for s in sessions if s.get("finished") and not s.get("embedded")]
        disk = index["disk_mb"]
        loads = [s["load_before"] for s in sessions if s.get("embedded")] + [s["load_after"] for s in sessions if s.get("embedded")]
        rows.append(
            f"| {index['chunks']:,} | {index['files']:,} | {len([s for s in sessions if s.get('embedded')])} | {rate:.1f} | "
            f"{share:.0%} | {other:.1f} | {idle[-1] if idle else '-'} | {index['bm25_rebuild_s']} | "
            f"{sum(disk.values()):.0f} ({disk['chroma']:.0f} + {disk['texts']:.0f} + {disk['bm25']:.0f}) | "
            f"{max(s['peak_rss_mb'] for s in sessions)} | {min(loads, default=0):.1f}-{max(loads, default=0):.1f} |")
    return rows


def _retrieval_rows(results: dict[int, dict], key: str) -> list[str]:
    rows = ["| chunks | start s (store + BM25 load) | first question s | dense p50 / p95 ms | bm25 p50 / p95 ms | "
            "hybrid p50 / p95 ms | evidence p50 / p95 ms | of dense: question embedding / Chroma search p50 ms | "
            "serving peak RSS MB | load |",
            "|---:|---|---:|---|---|---|---|---|---:|---|"]
    for _, r in sorted(results.items()):
        probe = r[key]
        if probe is None:
            continue
        modes = probe["modes"]
        rows.append(
            f"| {r['index']['chunks']:,} | {probe['start_store_s'] + probe['start_bm25_load_s']:.2f} "
            f"({probe['start_store_s']:.2f} + {probe['start_bm25_load_s']:.2f}) | {probe['first_query_s']:.1f} | "
            + " | ".join(f"{modes[m]['p50_ms']:.0f} / {modes[m]['p95_ms']:.0f}" for m in MODES)
            + f" | {probe['query_embedding']['p50_ms']:.0f} / {probe.get('dense_search', {}).get('p50_ms', '-')} | "
            f"{probe['serving_peak_rss_mb']} | {probe['load_before']:.1f}-{probe['load_after']:.1f} |")
    return rows


def _plot(results: dict[int, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("probe", "embedder on 2 torch threads (the app's setting)"), ("probe_1thread", "embedder on 1 torch thread")]
    fig, axes = plt.subplots(1, 2, figsize=(11, 5), sharey=True)
    for ax, (key, title) in zip(axes, panels):
        sizes = [s for s in sorted(results) if results[s][key]]
        chunks = [results[s]["index"]["chunks"] for s in sizes]
        for mode, colour in zip(MODES, ("tab:blue", "tab:orange", "tab:green", "tab:grey")):
            modes = [results[s][key]["modes"][mode] for s in sizes]
            ax.plot(chunks, [m["p50_ms"] for m in modes], "o-", color=colour, label=f"{mode} p50")
            ax.plot(chunks, [m["p95_ms"] for m in modes], "x--", color=colour, alpha=0.6, label=f"{mode} p95")
        ax.axhline(50, color="red", linewidth=0.8, linestyle=":", label="goal: hybrid p50 50 ms")
        ax.set(xscale="log", yscale="log", xlabel="chunks in the index", title=title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("latency per question (ms)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=5, fontsize=8)
    fig.suptitle("Retrieval latency against corpus size (2 shared CPU cores)")
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(out: Path, bench: Path) -> None:
    # Sizes measured in an earlier run (kept in scale_results.json) stay in the report unless measured again here:
    # `--sizes 100000` on a later day must not drop the 1k and 10k rows it did not re-run.
    earlier = bench / "scale_results.json"
    results = {int(k): v for k, v in json.loads(earlier.read_text()).items()} if earlier.exists() else {}
    if out.is_dir():
        results.update({int(p.name): r for p in out.iterdir() if p.name.isdigit() and (r := _load(p))})
    if not results:
        print("nothing measured yet")
        return
    (bench / "scale_results.json").write_text(json.dumps({str(k): v for k, v in sorted(results.items())}, indent=1))
    _plot(results, bench / "scale_latency.png")
    text = "\n".join([
        "# Scale results", "",
        "Written by `python bench/scale.py` (raw numbers: `scale_results.json`). Synthetic corpora of seed sentences in",
        f"seeded random order, every chunk text distinct; chunks of 128 tokens; {os.cpu_count()} CPU cores, shared with",
        "other jobs (the load columns give the 1-minute load average around each measurement).", "",
        "## Indexing", "", *_indexing_rows(results), "",
        "## Retrieval", "",
        "A fresh process per row; the 106 questions of evals/qa.jsonl, each through every measure in turn, after one",
        "warm-up. With the app's settings (the embedder on 2 torch threads):", "", *_retrieval_rows(results, "probe"), "",
        "The same with the embedder on 1 torch thread (`RAG_N_THREADS=1`):", "", *_retrieval_rows(results, "probe_1thread"), "",
        "![latency against corpus size](scale_latency.png)", "", BOUNDS])
    (bench / "RESULTS.md").write_text(text)
    print(f"wrote {bench / 'RESULTS.md'}")
