"""The BM25 side of retrieval: built from the store once per index version and persisted under index/bm25/.

Example: load_bm25(store, top_k=6) -> BM25Retriever   (rebuilt only when store.version() changed since last time)
Loading memory-maps the persisted scores and chunk texts, so a start does not read them all (10k chunks: 61 -> 2 ms).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from rag.store import ChunkStore

_STAMP = "rag_version.json"


def _build(nodes: list, top_k: int):
    import Stemmer
    from llama_index.retrievers.bm25 import BM25Retriever

    return BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=min(top_k, len(nodes)),
                                       stemmer=Stemmer.Stemmer("english"), language="english")


def _open(folder: Path, top_k: int):
    from llama_index.retrievers.bm25 import BM25Retriever

    retriever = BM25Retriever.from_persist_dir(str(folder), show_progress=False, mmap=True)
    retriever.similarity_top_k = min(top_k, len(retriever.corpus))
    return retriever


def load_bm25(store: ChunkStore, top_k: int):
    """The persisted BM25 retriever matching the store's current version, rebuilding and persisting it if stale.

    Returns None when the store holds no chunks (BM25 cannot be built on an empty corpus).
    """
    folder = Path(store.settings.index_dir) / "bm25" / store.settings.collection
    version = store.version()
    stamp = folder / _STAMP
    if stamp.is_file() and json.loads(stamp.read_text()).get("version") == version:
        return _open(folder, top_k)
    nodes = store.nodes()
    if not nodes:
        return None
    # persist into a fresh folder then swap it in, so a crash never leaves a stamp beside a half-written index
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    _build(nodes, top_k).persist(str(partial), show_progress=False)
    del nodes
    _open(partial, top_k)  # writes the corpus line index that memory-mapping needs, before anyone can open the folder
    (partial / _STAMP).write_text(json.dumps({"version": version}))
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return _open(folder, top_k)
