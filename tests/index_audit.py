"""Audit of a persisted index, run in a process of its own after another process was killed while writing it.

Usage: python tests/index_audit.py SEEDS_DIR INDEX_DIR  ->  one JSON object on stdout (see audit()).
A fresh process matters: Chroma's embedded client keeps the vector index in memory, so only a new process shows
what the next start of the app or the CLI will find on disk.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

QUESTION = "Why was the February trip called off?"


def audit(pipeline) -> dict:
    """What a consistent index must satisfy, measured (the caller asserts):

    records: {source: [file_hash, chunks]} of the file records; incomplete: records whose chunks are not all there, exactly;
    orphans: chunks of no recorded file version (a crash leaves these; the next index run repairs them);
    offsets_wrong: committed chunks whose text is not text[start:end] of their stored document text;
    missing_texts: records whose stored document text is gone; vectors_without_metadata: a dense query over the whole
    collection returning ids the metadata store does not know; returned_uncommitted: evidence from unrecorded versions;
    answer: the top three evidence passages for QUESTION (hybrid, the ranker's order), bm25: the same with BM25 alone.
    """
    store = pipeline.store
    records = store.manifest()
    committed = store.committed()
    got = store.chunks.get(include=["metadatas", "documents", "embeddings"])
    counts: dict[tuple[str, str], int] = {}
    offsets_wrong, texts = 0, {}
    for meta, text in zip(got["metadatas"], got["documents"]):
        key = (meta["source"], meta["file_hash"])
        counts[key] = counts.get(key, 0) + 1
        if key in committed:
            if meta["file_hash"] not in texts:
                texts[meta["file_hash"]] = store.document_text(meta["file_hash"])
            offsets_wrong += texts[meta["file_hash"]][meta["start"]:meta["end"]] != text
    incomplete = sorted(r.source for r in records.values() if counts.get((r.source, r.file_hash), 0) != r.chunks)
    missing_texts = sorted(r.source for r in records.values() if not (store.texts_dir / f"{r.file_hash}.txt").is_file())
    known = set(got["ids"])
    vectors_without_metadata = 0
    if len(got["ids"]):
        hits = store.chunks.query(query_embeddings=[got["embeddings"][0]], n_results=len(got["ids"]), include=["metadatas"])
        vectors_without_metadata = sum(1 for cid, meta in zip(hits["ids"][0], hits["metadatas"][0])
                                       if cid not in known or not meta)
    evidence = pipeline.evidence(QUESTION, k=10) if records else []
    bm25 = pipeline.evidence(QUESTION, mode="bm25") if records else []
    return {
        "records": {r.source: [r.file_hash, r.chunks] for r in records.values()},
        "incomplete": incomplete,
        "orphans": sum(n for key, n in counts.items() if key not in committed),
        "chunks": len(got["ids"]),
        "offsets_wrong": offsets_wrong,
        "missing_texts": missing_texts,
        "vectors_without_metadata": vectors_without_metadata,
        "returned_uncommitted": sum((e.source, e.file_hash) not in committed for e in evidence),
        "evidence_offsets_wrong": sum(pipeline.document_text(e)[e.start:e.end] != e.text for e in evidence),
        "answer": " ".join(e.text for e in evidence[:3]),
        "bm25": bm25[0].text if bm25 else "",
    }


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from rag.config import load_settings
    from rag.pipeline import Pipeline

    seeds, index = sys.argv[1:3]
    print(json.dumps(audit(Pipeline(load_settings(seeds_dir=seeds, index_dir=index)))))


if __name__ == "__main__":
    main()
