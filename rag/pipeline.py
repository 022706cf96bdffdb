"""The parts of the system wired together once, each built lazily on first use (nothing loads at import).

Example: pipeline = Pipeline(load_settings()); pipeline.index(); pipeline.evidence("Who did Blinken meet?")
The CLI, the chat UI and the evals all hold one Pipeline.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from functools import cached_property
from pathlib import Path

from rag.config import Settings
from rag.generate.models import load_embedder
from rag.indexing.ingest import IndexSummary, index_folder
from rag.indexing.store import ChunkStore
from rag.read.outline import Outline
from rag.search.evidence import Evidence, SentenceVectors, select_evidence
from rag.search.ranker import RANKER, Ranker, RankerUnavailable
from rag.search.retrieve import ChunkRetriever

CHARS_PER_TOKEN = 4  # English prose in the Qwen and MiniLM tokenizers: a little over 4; a first cut only
POOL = 2  # passages and characters selected beyond what the looks take: the prompts are fitted by exact token count
DOCUMENTS_CACHED = 64  # texts and outlines kept in memory: the documents recent questions drew evidence from


class Pipeline:
    """Each part is built on first use unless given: tests and tools pass a loaded embedder or a store to share."""

    def __init__(self, settings: Settings, embedder=None, store: ChunkStore | None = None, ranker_file: Path = RANKER):
        self.settings = settings
        self._embedder = embedder
        self._store = store
        self._retriever: ChunkRetriever | None = None
        self._lock = threading.Lock()  # Chroma and the embedder are shared by UI threads
        self._seen_version: str | None = None  # the store's version when this process last read or wrote it
        self._documents: OrderedDict[str, tuple[str, Outline] | None] = OrderedDict()
        self.ranker_file = ranker_file
        self.ranker_note = ""  # why the hand-set weights order the passages ("" when the trained ranker does)

    @property
    def store(self) -> ChunkStore:
        if self._store is None:
            self._store = ChunkStore(self.settings)
        return self._store

    @property
    def embedder(self):
        if self._embedder is None:
            self._embedder = load_embedder(self.settings.n_threads)
        return self._embedder

    @property
    def retriever(self) -> ChunkRetriever:
        if self._retriever is None:
            self._retriever = ChunkRetriever(self.settings, self.store, self.embedder)
        return self._retriever

    @cached_property
    def ranker(self) -> Ranker | None:
        """The trained unit ranker (rag/search/ranker.json); None, and ranker_note says why, without its file."""
        try:
            return Ranker.load(self.ranker_file)
        except RankerUnavailable as exc:
            self.ranker_note = f"{exc}; the hand-set weights order the passages"
            return None

    def reset(self) -> None:
        """Forget the retriever (its dense index and BM25), so the next search rebuilds them on the current store."""
        self._retriever = None

    @cached_property
    def sentence_vectors(self) -> SentenceVectors:
        return SentenceVectors(self.embedder)

    def index(self, progress: bool = True) -> IndexSummary:
        """Index the documents folder; after a change, rebuild BM25 here rather than on the next question."""
        with self._lock:
            self._follow_other_writers()
            summary = index_folder(self.settings, self.store, lambda: self.embedder, progress=progress)
            if summary.changed:
                began = time.perf_counter()
                self.retriever.bm25()
                summary.seconds += time.perf_counter() - began
            self._seen_version = self.store.version()  # our own writes keep this process's copy current
            return summary

    def evidence(self, question: str, k: int | None = None, mode: str = "hybrid", window: str | None = None,
                 budget_chars: int | None = None) -> list[Evidence]:
        """The best evidence passages for the question, best first, windowed as settings.evidence_window says: as
        many as both looks could take (k: per look, default settings.evidence_k), their text within budget_chars
        (default: POOL x CHARS_PER_TOKEN x the looks' tokens); the answer engine fits them to its prompts by exact
        token count."""
        with self._lock:
            self._follow_other_writers()
            chunks = self.retriever.retrieve(question, mode=mode)
            return self.select(question, chunks, k, window, budget_chars)

    def select(self, question: str, chunks: list, k: int | None = None, window: str | None = None,
               budget_chars: int | None = None) -> list[Evidence]:
        """The evidence passages of already retrieved chunks (see evidence()), ordered by the trained ranker."""
        tokens = self.settings.evidence_tokens + self.settings.second_look_tokens
        budget = budget_chars if budget_chars is not None else POOL * CHARS_PER_TOKEN * tokens
        k = POOL * (k or self.settings.evidence_k)
        return select_evidence(question, chunks, self.sentence_vectors, k, documents=self.document,
                               window=window or self.settings.evidence_window, budget_chars=budget, ranker=self.ranker)

    def document(self, file_hash: str) -> tuple[str, Outline] | None:
        """A document's text as read and its outline, None when the index holds no outline for it (made elsewhere).
        Keyed by content hash, so a cached entry is never stale."""
        if file_hash not in self._documents:
            try:
                found = (self.store.document_text(file_hash), Outline.from_json(self.store.document_outline(file_hash)))
            except (OSError, ValueError, KeyError):
                found = None
            self._documents[file_hash] = found
            while len(self._documents) > DOCUMENTS_CACHED:
                self._documents.popitem(last=False)
        self._documents.move_to_end(file_hash)
        return self._documents[file_hash]

    def _follow_other_writers(self) -> None:
        """Reopen the store if another process (e.g. `python -m rag index` while the chat window is up) changed it
        since this one last looked; see ChunkStore.reopen. Writers are serialised by the index lock."""
        version = self.store.version()
        if self._seen_version is not None and version != self._seen_version:
            self.store.reopen()
            self.reset()
        self._seen_version = version

    def document_text(self, item: Evidence) -> str:
        """The full text that an evidence item's offsets index."""
        return self.store.document_text(item.file_hash)
