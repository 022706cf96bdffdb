"""Hybrid chunk retrieval: dense (Chroma) + BM25, fused with llama-index's relative-score fusion.

Example: ChunkRetriever(settings, store, embedder).retrieve("Why was the February trip called off?")
  -> [NodeWithScore(node=<chunk of 003_...txt, start=118, end=1240>, score=0.93), ...]  best first
mode="dense" or "bm25" gives one side alone (for measuring what fusion adds).
"""

from __future__ import annotations

from functools import cached_property

from rag.config import Settings
from rag.indexing.bm25 import load_bm25
from rag.indexing.store import ChunkStore, is_committed

MODES = ("hybrid", "dense", "bm25")


class ChunkRetriever:
    def __init__(self, settings: Settings, store: ChunkStore, embedder):
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self._bm25_version: str | None = None
        self._bm25 = None

    @cached_property
    def dense(self):
        from llama_index.core import VectorStoreIndex

        index = VectorStoreIndex.from_vector_store(self.store.vector_store, embed_model=self.embedder)
        return index.as_retriever(similarity_top_k=self.settings.top_k)

    def bm25(self):
        """The BM25 retriever for the store's current version: loaded once, reloaded only after an index change."""
        version = self.store.version()
        if version != self._bm25_version:
            self._bm25 = load_bm25(self.store, self.settings.top_k)
            self._bm25_version = version
        return self._bm25

    def fusion(self, bm25):
        from llama_index.core.llms import MockLLM
        from llama_index.core.retrievers import QueryFusionRetriever

        # num_queries=1: no LLM query generation (the MockLLM is never called, the class just insists on one)
        return QueryFusionRetriever([self.dense, bm25], llm=MockLLM(), mode="relative_score", num_queries=1,
                                    similarity_top_k=self.settings.top_k, use_async=False)

    def retrieve(self, question: str, mode: str = "hybrid") -> list:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.store.require_index()
        bm25 = self.bm25() if mode != "dense" else None
        if mode == "dense" or bm25 is None:
            found = self.dense.retrieve(question)
        elif mode == "bm25":
            found = bm25.retrieve(question)
        else:
            found = self.fusion(bm25).retrieve(question)
        committed = self.store.committed()
        if not all(is_committed(hit.node.metadata, committed) for hit in found):
            committed = self.store.committed(refresh=True)
        return [hit for hit in found if is_committed(hit.node.metadata, committed)]
