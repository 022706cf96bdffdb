"""The BM25 side of retrieval: built from the store once per index version and persisted under index/bm25/.

Example: load_bm25(store, top_k=6) -> BM25Retriever   (rebuilt only when store.version() changed since last time)
Loading memory-maps the persisted scores and chunk texts, so a start does not read them all (docs/decisions.md).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from rag.indexing.store import ChunkStore

_STAMP = "rag_version.json"


def _build(nodes: list, top_k: int):
    import Stemmer
    from llama_index.retrievers.bm25 import BM25Retriever

    return BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=min(top_k, len(nodes)),
                                       stemmer=Stemmer.Stemmer("english"), language="english")


def _has_terms(nodes: list) -> bool:
    """Whether BM25 has any term to index, tokenized as llama-index's BM25Retriever does: bm25s fails ("max() arg is
    an empty sequence") on a corpus whose every word is a stop word or a single letter. Then dense search works alone."""
    import bm25s
    from llama_index.core.schema import MetadataMode

    return any(bm25s.tokenize([node.get_content(metadata_mode=MetadataMode.EMBED)], stopwords="english",
                              return_ids=False, show_progress=False)[0] for node in nodes)


def _open(folder: Path, top_k: int):
    from llama_index.retrievers.bm25 import BM25Retriever

    retriever = BM25Retriever.from_persist_dir(str(folder), show_progress=False, mmap=True)
    retriever.similarity_top_k = min(top_k, len(retriever.corpus))
    return retriever


def load_bm25(store: ChunkStore, top_k: int):
    """The persisted BM25 retriever matching the store's current version, rebuilding and persisting it if stale.

    Returns None when the store holds no chunks, or no chunk has a word BM25 indexes (BM25 cannot be built then).
    """
    folder = Path(store.settings.index_dir) / "bm25" / store.settings.collection
    version = store.version()
    stamp = folder / _STAMP
    if stamp.is_file() and json.loads(stamp.read_text()).get("version") == version:
        return _open(folder, top_k)
    nodes = store.nodes()
    if not nodes or not _has_terms(nodes):
        return None
    # Persist into a fresh folder then swap it in, so a crash never leaves a stamp beside a half-written index.
    # The folder is this call's own: two processes (the UI and the CLI) may rebuild the same version at once.
    _remove_orphans(folder)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"  # the pid tells _remove_orphans whether its builder still runs
    partial = folder.with_name(f"{folder.name}.partial-{tag}")
    try:
        _build(nodes, top_k).persist(str(partial), show_progress=False)
        del nodes
        _open(partial, top_k)  # writes the corpus line index that memory-mapping needs, before anyone can open it
        (partial / _STAMP).write_text(json.dumps({"version": version}))
        _swap_in(partial, folder, folder.with_name(f"{folder.name}.old-{tag}"))
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return _open(folder, top_k)


def _swap_in(partial: Path, folder: Path, old: Path) -> None:
    """Replace folder by partial, moving the current one aside to old first. A reader that has it memory-mapped
    keeps reading it (unlinked files live on until closed); if another process swapped in its own build first,
    the later build simply replaces it."""
    try:
        folder.rename(old)
    except FileNotFoundError:
        pass
    try:
        partial.rename(folder)
    except OSError:  # another process put its build in between our two renames; its stamp says which version it is
        pass
    shutil.rmtree(old, ignore_errors=True)


def _remove_orphans(folder: Path) -> None:
    """Remove build folders left by processes that died mid-build (kill -9, a crash), not those of live ones."""
    if not folder.parent.is_dir():
        return
    for kind in (".partial-", ".old-"):
        for leftover in folder.parent.glob(f"{folder.name}{kind}*"):
            pid = leftover.name.rsplit(kind, 1)[1].split("-")[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(leftover, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        pass
    return True
