"""What the unit ranker reads about each candidate unit: how its text, its neighbours and its headings match the
question, the fused score of its chunk, and its shape.

Example: unit_features("Which port does tinc listen on?", units, vectors)
  -> array([[0.62, 0.50, 1.00, 0.71, 0.33, 0.40, 0.0, ..., 1.0], ...])   one row per unit, columns FEATURES
The headings are where a manual names what a passage is about (a definition's term, a FAQ's question): "Port =
<port> (655)" under the term "Port" answers a question its own words barely match. The neighbours are where an
answer often stands when the sentence that matches the question only introduces it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from rag.text import content_words

FEATURES = ("dense", "lexical", "chunk", "head_dense", "head_lexical", "next_dense", "next_lexical", "prev_dense",
            "prev_lexical", "number", "length", "row", "item", "code", "first")
# a question asking for a quantity, a version, a time or a setting's value: a unit with a digit may hold it
_ASKS_NUMBER = re.compile(r"\bhow (many|much|long|big|large|often|old|far|fast)\b|\b(port|version|year|date|size|"
                          r"number|limit|timeout|default|maximum|minimum|max|min|percent\w*|when|interval|value)\b", re.I)
_DIGIT = re.compile(r"\d")


def idf_share(asked: set[str], words_of: Sequence[set[str]]):
    """score(words) -> the idf-weighted share of the question's content words among them, idf over words_of (a
    question word found in every unit says little)."""
    df = {w: sum(w in words for words in words_of) for w in asked}
    idf = {w: math.log(1 + len(words_of) / (1 + df[w])) for w in asked}
    total = sum(idf.values()) or 1.0
    return lambda words: sum(idf[w] for w in words & asked) / total


def _cosines(query: np.ndarray, vectors: list) -> np.ndarray:
    if not vectors:
        return np.zeros(0)
    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(query) or 1.0)
    return matrix @ query / np.where(norms == 0, 1.0, norms)


def unit_features(question: str, units: Sequence, vectors) -> np.ndarray:
    """One row of FEATURES per candidate unit (rag.search.evidence candidates; vectors: its SentenceVectors)."""
    if not units:
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    asked = content_words(question)
    texts = [u.text for u in units]
    heads = [u.place for u in units]
    before = [u.document[slice(*u.neighbours[0])] if u.neighbours[0] and u.document else "" for u in units]
    after = [u.document[slice(*u.neighbours[1])] if u.neighbours[1] and u.document else "" for u in units]
    distinct = list(dict.fromkeys(t for t in (*texts, *heads, *before, *after) if t))
    query = np.asarray(vectors.embedder.get_query_embedding(question), dtype=np.float32)
    dense = dict(zip(distinct, _cosines(query, vectors.vectors(distinct))))
    words = {t: content_words(t) for t in distinct}
    lexical = idf_share(asked, [words[t] for t in texts])
    number = bool(_ASKS_NUMBER.search(question))
    rows = []
    for unit, text, head, prev, nxt in zip(units, texts, heads, before, after):
        rows.append([dense[text], lexical(words[text]), unit.chunk_score,
                     dense.get(head, 0.0), lexical(words.get(head, set())),
                     dense.get(nxt, 0.0), lexical(words.get(nxt, set())),
                     dense.get(prev, 0.0), lexical(words.get(prev, set())),
                     float(number and bool(_DIGIT.search(text))), math.log1p(len(text)) / 7,
                     float(unit.kind == "row"), float(unit.kind == "item"), float(unit.kind == "code"),
                     float(unit.neighbours[0] is None)])
    return np.asarray(rows, dtype=np.float32)
