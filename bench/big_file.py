"""How long one big text file takes to index, and whether it answers afterwards.

Usage: python bench/big_file.py [--mb 10] [--keep DIR]
Builds a documents folder of the seed articles plus one N-MB .txt made of numbered seed paragraphs, indexes the seeds
(not timed), then times `index` of the big file (reading, chunking, embedding, storing) and one question about it.
Prints a table and writes bench/out/big_file.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.config import load_settings  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.read.chunking import chunk_spans  # noqa: E402
from rag.read.readers import read_document  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def big_text(megabytes: float) -> str:
    """Numbered seed paragraphs up to the size: "Section 17. <paragraph>" ..., so every chunk is distinct."""
    paragraphs = [p for path in sorted((ROOT / "seeds").glob("*.txt")) for p in path.read_text().split("\n\n") if p.strip()]
    out, size, n = [], 0, 0
    while size < megabytes * 2**20:
        out.append(f"Section {n}. {paragraphs[n % len(paragraphs)]}")
        size += len(out[-1].encode()) + 2
        n += 1
    return "\n\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=10.0)
    parser.add_argument("--keep", help="folder to build in and keep (default: a temp folder, removed)")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="big_file_"))
    shutil.copytree(ROOT / "seeds", work / "seeds", dirs_exist_ok=True)
    settings = load_settings(seeds_dir=str(work / "seeds"), index_dir=str(work / "index"))
    pipeline = Pipeline(settings)
    pipeline.index(progress=False)
    big = work / "seeds" / "big.txt"
    big.write_text(big_text(args.mb))

    began = time.perf_counter()
    chunks = len(chunk_spans(read_document(big).text, settings.chunk_size, settings.chunk_overlap))
    chunk_s = time.perf_counter() - began
    began = time.perf_counter()
    summary = pipeline.index(progress=True)
    index_s = time.perf_counter() - began
    began = time.perf_counter()
    found = pipeline.evidence("Section 12345. Why was the February trip called off?")
    ask_s = time.perf_counter() - began
    result = {"mb": round(big.stat().st_size / 2**20, 2), "chunks": chunks, "read_and_chunk_s": round(chunk_s, 1),
              "index_s": round(index_s, 1), "chunks_per_s": round(chunks / index_s, 1),
              "summary": summary.describe(), "retrieval_s": round(ask_s, 2), "top_source": found[0].source,
              "load_average": os.getloadavg()}
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "big_file.json").write_text(json.dumps(result, indent=2))
    for key, value in result.items():
        print(f"{key:>18}: {value}")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
