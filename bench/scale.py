"""Scale: synthetic corpora of ~1k, 10k and 100k chunks indexed with the real pipeline, then timed like a user would.

Usage: python bench/scale.py [--sizes 1000,10000,100000] [--report-only]
Per size it writes bench/out/scale/<size>/{seeds,index,index.json,probe.json}; then bench/RESULTS.md,
bench/scale_latency.png and bench/scale_results.json from every size measured so far.

Resumable: the corpus files are written atomically and only when missing, and `index` commits each file as soon as it
is embedded, so re-running after Ctrl-C or kill -9 embeds only the files not yet committed.
The corpus: files of seed sentences in a seeded random order (file n is the same file in every corpus), so nothing is
downloaded and every run builds the same text. Retrieval is timed in a fresh process (scale_probe.py) so the start
cost and the serving memory are measured apart from indexing.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import Settings, load_settings  # noqa: E402
from rag.read.chunking import chunk_spans, sentence_spans  # noqa: E402

OUT = ROOT / "bench" / "out" / "scale"
SENTENCES_PER_FILE = 40
FILES_PER_FOLDER = 1000


# ---- the corpus -------------------------------------------------------------------------------------------------------
def sentence_pool(seeds: Path) -> list[str]:
    """Distinct prose sentences of the seed documents (headlines, bylines and menu lines left out)."""
    pool = set()
    for path in sorted(seeds.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        for start, end in sentence_spans(text):
            sentence = text[start:end].strip()
            if len(sentence) >= 40 and "|" not in sentence:
                pool.add(sentence)
    return sorted(pool)


def synthetic_text(pool: list[str], number: int, attempt: int = 0) -> str:
    """File `number`: a numbered title, then SENTENCES_PER_FILE distinct pool sentences in paragraphs of 2-5."""
    rng = random.Random(f"scale:{number}:{attempt}")
    sentences = rng.sample(pool, SENTENCES_PER_FILE)
    paragraphs, at = [], 0
    while at < len(sentences):
        take = rng.randint(2, 5)
        paragraphs.append(" ".join(sentences[at:at + take]))
        at += take
    return f"Briefing {number:06d}\n\n" + "\n\n".join(paragraphs) + "\n"


def chunk_keys(text: str, settings: Settings) -> list[bytes]:
    """Digests of the chunk texts `index` will cut from this file."""
    return [hashlib.blake2b(text[s:e].encode(), digest_size=16).digest()
            for s, e in chunk_spans(text, settings.chunk_size, settings.chunk_overlap)]


def unique_text(pool: list[str], number: int, seen: set[bytes], settings: Settings) -> str:
    """The first draw for file `number` whose chunks are all new: a long sentence can make a chunk on its own, and two
    files holding it alone would give the same chunk text twice."""
    for attempt in itertools.count():
        text = synthetic_text(pool, number, attempt)
        keys = chunk_keys(text, settings)
        if len(set(keys)) == len(keys) and seen.isdisjoint(keys):
            return text


def file_path(seeds: Path, number: int) -> Path:
    return seeds / f"{number // FILES_PER_FOLDER:03d}" / f"doc_{number:06d}.txt"


def write_corpus(seeds: Path, pool: list[str], size: int, settings: Settings) -> tuple[int, int]:
    """Files 0, 1, ... until they hold `size` chunks; returns (files, files written now). Only missing files are
    written, in order (file n depends on files 0..n-1 through `seen`), and each appears only complete (hidden temp
    name, then rename), so a rerun after an interruption continues where it stopped."""
    from tqdm import tqdm

    seen: set[bytes] = set()
    number = written = 0
    with tqdm(total=size, desc="corpus", unit="chunk", mininterval=2) as bar:
        while len(seen) < size:
            path = file_path(seeds, number)
            if path.exists():
                text = path.read_text(encoding="utf-8")
            else:
                text = unique_text(pool, number, seen, settings)
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_name(f".{path.name}.partial")  # dot files are never indexed
                partial.write_text(text, encoding="utf-8")
                partial.replace(path)
                written += 1
            keys = chunk_keys(text, settings)
            seen.update(keys)
            bar.update(len(keys))
            number += 1
    return number, written


# ---- indexing ---------------------------------------------------------------------------------------------------------
class TimedEmbedder:
    """The real embedder, counting the texts and seconds spent in batch embedding (the part indexing cannot avoid)."""

    def __init__(self, inner):
        self.inner, self.texts, self.seconds = inner, 0, 0.0

    def get_text_embedding_batch(self, texts: list[str], **kwargs):
        began = time.perf_counter()
        vectors = self.inner.get_text_embedding_batch(texts, **kwargs)
        self.seconds += time.perf_counter() - began
        self.texts += len(texts)
        return vectors


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20 if folder.is_dir() else 0.0


def index_size(size: int, settings: Settings) -> dict:
    """Index the corpus (resuming), then rebuild BM25 once, timing each part; appends one session to index.json."""
    from rag.generate.models import load_embedder
    from rag.indexing.bm25 import load_bm25
    from rag.indexing.ingest import index_folder
    from rag.indexing.store import ChunkStore, get_all

    record_path = OUT / str(size) / "index.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else {"sessions": []}
    embedder = TimedEmbedder(load_embedder(settings.n_threads))
    store = ChunkStore(settings)
    session = {"began": time.strftime("%Y-%m-%d %H:%M:%S"), "load_before": os.getloadavg()[0], "finished": False}
    began = time.perf_counter()
    try:
        summary = index_folder(settings, store, lambda: embedder, progress=True)
        session.update(finished=True, files_added=summary.added, files_unchanged=summary.unchanged,
                       chunks_added=summary.chunks_added)
    finally:  # an interrupted session still records what it embedded
        session.update(seconds=round(time.perf_counter() - began, 2), embedded=embedder.texts,
                       embed_seconds=round(embedder.seconds, 2), peak_rss_mb=round(peak_rss_mb()),
                       load_after=os.getloadavg()[0])
        record["sessions"].append(session)
        record_path.write_text(json.dumps(record, indent=1))
    began = time.perf_counter()
    nodes = store.nodes()
    record["bm25_read_chunks_s"] = round(time.perf_counter() - began, 2)
    del nodes
    stamp = Path(settings.index_dir) / "bm25" / settings.collection / "rag_version.json"
    stamp.unlink(missing_ok=True)  # force the rebuild that follows an index change
    began = time.perf_counter()
    load_bm25(store, settings.top_k)
    record["bm25_rebuild_s"] = round(time.perf_counter() - began, 2)
    metadatas = get_all(store.chunks, include=["metadatas"])["metadatas"]
    record.update(chunks=len(metadatas), distinct_chunks=len({m["chunk_hash"] for m in metadatas}),
                  files=len(store.manifest()), peak_rss_mb=round(peak_rss_mb()),
                  disk_mb={part: round(folder_mb(Path(settings.index_dir) / part), 1) for part in ("chroma", "texts", "bm25")},
                  seeds_mb=round(folder_mb(Path(settings.seeds_dir)), 1))
    record_path.write_text(json.dumps(record, indent=1))
    return record


def probe(size: int) -> dict:
    """Time the start and the queries in fresh processes (bench/scale_probe.py): once with the app's settings (probe.json)
    and once with one torch thread for the embedder (probe_1thread.json; RAG_N_THREADS=1)."""
    folder = OUT / str(size)
    for name, env in (("probe.json", {}), ("probe_1thread.json", {"RAG_N_THREADS": "1"})):
        done = subprocess.run([sys.executable, str(ROOT / "bench" / "scale_probe.py"), str(folder)], check=True,
                              capture_output=True, text=True, cwd=ROOT, env={**os.environ, **env})
        result = json.loads(done.stdout.strip().splitlines()[-1])
        (folder / name).write_text(json.dumps(result, indent=1))
    return json.loads((folder / "probe.json").read_text())


def settings_for(size: int) -> Settings:
    folder = OUT / str(size)
    return load_settings(seeds_dir=str(folder / "seeds"), index_dir=str(folder / "index"), data_dir=str(folder / "data"))


def run_size(size: int, pool: list[str]) -> None:
    settings = settings_for(size)
    n_files, written = write_corpus(Path(settings.seeds_dir), pool, size, settings)
    print(f"[{size}] corpus: {n_files} files ({written} written now) in {settings.seeds_dir}", flush=True)
    record = index_size(size, settings)
    print(f"[{size}] indexed: {record['chunks']} chunks ({record['distinct_chunks']} distinct), "
          f"BM25 rebuild {record['bm25_rebuild_s']} s", flush=True)
    result = probe(size)
    print(f"[{size}] hybrid p50 {result['modes']['hybrid']['p50_ms']} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated target chunk counts")
    parser.add_argument("--report-only", action="store_true", help="only rewrite RESULTS.md from what was measured")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if not args.report_only:
        pool = sentence_pool(ROOT / "seeds")
        print(f"sentence pool: {len(pool)} sentences", flush=True)
        for size in sizes:
            run_size(size, pool)
    from scale_report import write_report

    write_report(OUT, ROOT / "bench")


if __name__ == "__main__":
    main()
