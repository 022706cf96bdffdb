"""Sentence-level evidence: the sentences inside the retrieved chunks that best match the question.

Example: select_evidence("Why was the February trip called off?", chunks, embedder, k=3) ->
  [Evidence(source="003_a9c27a608b917622.txt", text="U.S. Secretary of State Antony Blinken will visit Beijing
   on Sunday and Monday, a visit that had been called off in February after a Chinese weather balloon ...",
   start=71, end=275, score=0.71), ...]  best first; text == document_text[start:end] exactly.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import asdict, dataclass

from rag.chunking import embedding_text, sentence_spans
from rag.text import content_words, cosine, looks_like_instruction

# Weights of meaning, shared rare words (names and numbers the small embedder blurs) and the chunk's fused rank,
# chosen by a sweep on the eval set (docs/decisions.md, "Evidence ranking weights").
W_DENSE, W_LEXICAL, W_CHUNK = 0.4, 0.4, 0.2
MIN_SENTENCE_CHARS = 12  # shorter "sentences" are bylines, bullets and stray captions


@dataclass(frozen=True)
class Evidence:
    source: str
    text: str
    start: int
    end: int
    score: float
    file_hash: str = ""

    def public(self) -> dict:
        """The fields a user or a JSON consumer sees."""
        return {key: value for key, value in asdict(self).items() if key != "file_hash"}


def _candidates(chunks: list) -> list[tuple[Evidence, float]]:
    """Each distinct sentence of the chunks with the normalised fused score of the best chunk holding it."""
    top = max((c.score or 0.0) for c in chunks) or 1.0
    seen: dict[tuple[str, int, int], tuple[Evidence, float]] = {}
    for chunk in chunks:
        meta = chunk.node.metadata
        text, base = chunk.node.text, int(meta["start"])
        for start, end in sentence_spans(text):
            if end - start < MIN_SENTENCE_CHARS or looks_like_instruction(text[start:end]):
                continue
            key = (meta["source"], base + start, base + end)
            if key not in seen:
                item = Evidence(meta["source"], text[start:end], base + start, base + end, 0.0, meta.get("file_hash", ""))
                seen[key] = (item, (chunk.score or 0.0) / top)
    return list(seen.values())


class SentenceVectors:
    """An LRU cache of sentence embeddings: a sentence seen in an earlier query is not embedded again."""

    def __init__(self, embedder, capacity: int = 20000):
        self.embedder = embedder
        self.capacity = capacity
        self._cache: OrderedDict[str, list[float]] = OrderedDict()

    def vectors(self, texts: list[str]) -> list[list[float]]:
        keys = [embedding_text(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if missing:
            for key, vector in zip(missing, self.embedder.get_text_embedding_batch(missing)):
                self._cache[key] = vector
        for key in keys:
            self._cache.move_to_end(key)
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return [self._cache[k] for k in keys]


def select_evidence(question: str, chunks: list, vectors: SentenceVectors, k: int) -> list[Evidence]:
    """Rank the sentences of `chunks` (retrieved NodeWithScore, best first) against the question; keep the best k."""
    candidates = _candidates(chunks)
    if not candidates:
        return []
    query_vector = vectors.embedder.get_query_embedding(question)
    sentence_vectors = vectors.vectors([item.text for item, _ in candidates])
    asked = content_words(question)
    # idf over the candidate sentences: a question word found in every sentence says little
    df: dict[str, int] = {}
    words_of = [content_words(item.text) for item, _ in candidates]
    for words in words_of:
        for word in words & asked:
            df[word] = df.get(word, 0) + 1
    idf = {w: math.log(1 + len(candidates) / (1 + df.get(w, 0))) for w in asked}
    total_idf = sum(idf.values()) or 1.0
    scored = []
    for (item, chunk_score), vector, words in zip(candidates, sentence_vectors, words_of):
        lexical = sum(idf[w] for w in words & asked) / total_idf
        score = W_DENSE * cosine(query_vector, vector) + W_LEXICAL * lexical + W_CHUNK * chunk_score
        scored.append(Evidence(item.source, item.text, item.start, item.end, round(score, 4), item.file_hash))
    scored.sort(key=lambda e: e.score, reverse=True)
    return scored[:k]
