"""Evidence: the units (sentences, items, rows) of the retrieved chunks that best match the question, each widened to
a window with its neighbour in the same paragraph, and each knowing its document's title, section and date.

Example: select_evidence("Why was the February trip called off?", chunks, vectors, k=3, documents=store_documents)
  -> [Evidence(source="003_a9c27a608b917622.txt", text="U.S. Secretary of State Antony Blinken will visit Beijing
      on Sunday and Monday, a visit that had been called off in February after a Chinese weather balloon ...",
      start=71, end=275, score=0.71, title="...", section="", date="2023-06-16"), ...]
best first; text == document_text[start:end] exactly; parts are the units inside the window (for citations).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from rag.read.chunking import embedding_text, sentence_spans
from rag.read.outline import Outline
from rag.search.features import unit_features
from rag.search.ranker import relevance
from rag.text import content_words, looks_like_instruction

MIN_SENTENCE_CHARS = 12  # shorter "sentences" are bylines, bullets and stray captions
WINDOWS = ("unit", "next", "around")  # a unit alone, with the unit after it, or with one on each side
NEAR_DUPLICATE = 0.8  # share of content words in common above which a second passage says nothing new
HEADER_CHARS = 60
_WORD = re.compile(r"[^\W_]+")
_NUMBERING = frozenset(str(n) for n in range(100))  # "4.4.1" in a heading is its place, not what it says

Documents = Callable[[str], "tuple[str, Outline] | None"]  # file_hash -> (text as read, outline), None if unknown


@dataclass(frozen=True)
class Evidence:
    source: str
    text: str
    start: int
    end: int
    score: float
    file_hash: str = ""
    title: str = ""
    section: str = ""
    date: str = ""
    parts: tuple[tuple[int, int], ...] = field(default=(), compare=False)  # the units inside, absolute offsets
    rank: float | None = field(default=None, compare=False)  # the ranker's P(it holds the answer): the order

    def header(self) -> str:
        """Where the passage comes from, as the model and the evidence panel show it: "Guide > Ports, 2024-04-25"
        (place() and the date)."""
        return ", ".join(p for p in (place(self.title, self.section), self.date) if p)

    def public(self) -> dict:
        """The fields a user or a JSON consumer sees."""
        return {"source": self.source, "text": self.text, "start": self.start, "end": self.end, "score": self.score,
                "rank": self.rank, "title": self.title, "section": self.section, "date": self.date}


def place(title: str, section: str) -> str:
    """The title and the nearest two headings, each cut to HEADER_CHARS (every character is a prompt token's share);
    a heading whose words the title or the other heading already says is left out.

    Example: place("Main configuration variables (tinc Manual)", "4 Configuration > 4.4.1 Main configuration
             variables") -> "Main configuration variables (tinc Manual) > 4 Configuration" """
    parts = [p for p in (title, *section.split(" > ")[-2:]) if p]
    words = [set(_WORD.findall(p.casefold())) - _NUMBERING for p in parts]
    kept = [p for i, p in enumerate(parts)
            if not (i and any(j != i and words[i] <= words[j] and (words[i] != words[j] or j < i)
                              for j in range(len(parts))))]
    return " > ".join(_cut(p, HEADER_CHARS) for p in kept)


def _cut(text: str, limit: int) -> str:
    """Example: _cut("Experts expect little breakthrough but see", 20) -> "Experts expect…" """
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


@dataclass(frozen=True)
class _Candidate:
    source: str
    file_hash: str
    start: int
    end: int
    text: str
    chunk_score: float
    neighbours: tuple[tuple[int, int] | None, tuple[int, int] | None]  # the units before and after, same block
    title: str
    section: str
    date: str
    document: str | None  # the whole text the offsets index, when known
    kind: str = "paragraph"  # the block's kind: paragraph, item, row or code

    @property
    def place(self) -> str:
        return place(self.title, self.section)


def _from_outline(chunk, meta: dict, document: str, shape: Outline, score: float) -> list[_Candidate]:
    base, stop = int(meta["start"]), int(meta["end"])
    found = []
    for i, unit in enumerate(shape.units):
        if unit.end <= base or unit.start >= stop or shape.kinds[unit.block] in ("heading", "term"):
            continue  # a heading (or a definition's term) is shown above its passages, not as one
        before = shape.units[i - 1] if i and shape.units[i - 1].block == unit.block else None
        after = shape.units[i + 1] if i + 1 < len(shape.units) and shape.units[i + 1].block == unit.block else None
        found.append(_Candidate(meta["source"], meta.get("file_hash", ""), unit.start, unit.end,
                                document[unit.start:unit.end], score,
                                (before and (before.start, before.end), after and (after.start, after.end)),
                                shape.title, shape.sections[unit.block], shape.date, document,
                                shape.kinds[unit.block]))
    return found


def _from_chunk(chunk, meta: dict, score: float) -> list[_Candidate]:
    """Without the document's outline (an index made elsewhere, on a Chroma server): the chunk's own sentences."""
    text, base = chunk.node.text, int(meta["start"])
    return [_Candidate(meta["source"], meta.get("file_hash", ""), base + s, base + e, text[s:e], score, (None, None),
                       meta.get("title", ""), meta.get("section", ""), meta.get("date", ""), None)
            for s, e in sentence_spans(text)]


def candidates(chunks: list, documents: Documents | None = None) -> list[_Candidate]:
    """Each distinct unit of the chunks with the normalised fused score of the best chunk holding it."""
    top = max((c.score or 0.0) for c in chunks) or 1.0
    seen: dict[tuple[str, int, int], _Candidate] = {}
    for chunk in chunks:
        meta = chunk.node.metadata
        known = documents(meta.get("file_hash", "")) if documents else None
        score = (chunk.score or 0.0) / top
        found = _from_outline(chunk, meta, *known, score) if known else _from_chunk(chunk, meta, score)
        for item in found:
            if item.end - item.start < MIN_SENTENCE_CHARS or looks_like_instruction(item.text):
                continue
            seen.setdefault((item.source, item.start, item.end), item)
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


def _window(item: _Candidate, window: str) -> tuple[int, int, tuple[tuple[int, int], ...]]:
    before, after = item.neighbours
    parts = [(item.start, item.end)]
    if window in ("next", "around") and after:
        parts.append(after)
    if window == "around" and before:
        parts.insert(0, before)
    return parts[0][0], parts[-1][1], tuple(parts)


def select_evidence(question: str, chunks: list, vectors: SentenceVectors, k: int, documents: Documents | None = None,
                    window: str = "next", budget_chars: int | None = None, ranker=None) -> list[Evidence]:
    """Rank the units of `chunks` (retrieved NodeWithScore, best first) against the question and keep the best k
    (or as many as budget_chars of passage text allows), each widened to its window; a window overlapping one
    already kept, or saying nearly the same thing, is skipped. ranker (rag.search.ranker.Ranker) orders the units;
    without one, their hand-set relevance does. Each passage's score is its unit's relevance, and the best relevance
    of any unit is always among them (what the evidence gate reads): on a passage that overlaps that unit, else on the
    unit's own passage after the others."""
    found = candidates(chunks, documents)
    if not found:
        return []
    features = unit_features(question, found, vectors)
    scores = relevance(features)
    order = ranker.order(features) if ranker is not None else scores
    scored = sorted(zip(order, scores, found), key=lambda row: row[0], reverse=True)
    kept: list[Evidence] = []
    kept_words: list[set[str]] = []
    used = 0
    for rank, score, item in scored:
        start, end, parts = _window(item, window) if item.document is not None else (item.start, item.end, ())
        text = item.document[start:end] if item.document is not None else item.text
        if any(e.source == item.source and e.start < end and start < e.end for e in kept):
            continue
        words = content_words(text)
        if any(len(words & other) >= NEAR_DUPLICATE * min(len(words), len(other)) for other in kept_words if words):
            continue
        if budget_chars is not None and kept and used + len(text) > budget_chars:
            continue  # a shorter one further down may still fit
        kept.append(Evidence(item.source, text, start, end, round(float(score), 4), item.file_hash, item.title, item.section,
                             item.date, parts or ((start, end),), round(float(rank), 4)))
        kept_words.append(words)
        used += len(text)
        if len(kept) >= k:
            break
    return _with_best(kept, scored, window)


def _with_best(kept: list[Evidence], scored: list, window: str) -> list[Evidence]:
    """kept, with the most relevant unit's score where the gate can read it (see select_evidence)."""
    rank, score, item = max(scored, key=lambda row: row[1])
    if not kept or max(e.score for e in kept) >= round(float(score), 4):
        return kept
    start, end, parts = _window(item, window) if item.document is not None else (item.start, item.end, ())
    for n, e in enumerate(kept):
        if e.source == item.source and e.start < end and start < e.end:
            return [*kept[:n], replace(e, score=round(float(score), 4)), *kept[n + 1:]]
    text = item.document[start:end] if item.document is not None else item.text
    return [*kept, Evidence(item.source, text, start, end, round(float(score), 4), item.file_hash, item.title,
                            item.section, item.date, parts or ((start, end),), round(float(rank), 4))]
