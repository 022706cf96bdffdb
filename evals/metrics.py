"""Deterministic answer and retrieval metrics: pure functions of answers, gold data and document texts.

No model grades anything here. Each function's docstring shows a worked example; tests/test_evals_metrics.py
checks them against hand-computed figures.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from rag.answer.cite import MARKER
from rag.read.chunking import sentence_spans

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_DIGIT_COMMA = re.compile(r"(?<=\d),(?=\d)")
_POSSESSIVE = re.compile(r"'s\b")


def normalise_answer(text: str) -> str:
    """Lower-case; drop citation markers, possessive 's, articles and punctuation (dots and apostrophes vanish,
    so "U.S." == "US"; other marks become spaces); collapse whitespace.

    Example: normalise_answer("The U.S.-China talks [Source 2], in Beijing's hall.") -> "us china talks in beijing hall"
    """
    text = MARKER.sub(" ", unicodedata.normalize("NFKC", text)).lower().replace("\u2019", "'")
    text = _DIGIT_COMMA.sub("", _POSSESSIVE.sub("", text))
    text = "".join("" if ch in ".'" else " " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    return " ".join(_ARTICLES.sub(" ", text).split())


def contains_answer(answer: str, golds: Iterable[str]) -> bool:
    """True when any normalised gold answer occurs in the normalised answer as whole words.

    Example: contains_answer("He met Nicholas Burns [1].", ["Nicholas Burns", "Burns"]) -> True
             contains_answer("Burnside", ["Burns"]) -> False
    """
    padded = f" {normalise_answer(answer)} "
    return any(gold and f" {gold} " in padded for gold in map(normalise_answer, golds))


def key_term_recall(answer: str, groups: Sequence[Sequence[str]]) -> float:
    """Share of the key-term groups that have at least one alternative in the answer, matched as whole words after
    normalise_answer (as contains_answer matches a gold answer); 1.0 when there are no groups (nothing required).

    Example: key_term_recall("A weather balloon was spotted over U.S. airspace [1].",
                             [["balloon"], ["airspace", "spotted"], ["February"]]) -> 0.667   (2 of 3 groups)
             key_term_recall("It was a balloonist.", [["balloon"]]) -> 0.0
    """
    if not groups:
        return 1.0
    return sum(contains_answer(answer, group) for group in groups) / len(groups)


def gives_answer(text: str, golds: Iterable[str], key_terms: Sequence[Sequence[str]] = ()) -> bool:
    """The text holds the gold answer: every key-term group when there are some, else a gold answer as whole words.

    Example: gives_answer("It was a weather balloon [1].", ["a balloon"], [["balloon"], ["weather"]]) -> True
             gives_answer("It was a weather balloon [1].", ["a balloon"], [["balloon"], ["February"]]) -> False
    """
    return key_term_recall(text, key_terms) == 1.0 if key_terms else contains_answer(text, golds)


MIN_REPEAT_WORDS = 3  # "Yes." twice is not a loop; a short repeat is too often a legitimate echo
MIN_LOOP_WORDS = 6  # a phrase this long said twice in a row is a generation loop, not style


def _loops(words: Sequence[str]) -> bool:
    """True when some run of at least MIN_LOOP_WORDS words is immediately followed by itself."""
    for k in range(MIN_LOOP_WORDS, len(words) // 2 + 1):
        for i in range(len(words) - 2 * k + 1):
            if words[i] == words[i + k] and words[i:i + k] == words[i + k:i + 2 * k]:
                return True
    return False


def has_repeated_sentence(answer: str) -> bool:
    """True when the answer says the same sentence twice: two of its sentences (split as the engine's verifier splits
    them; a line break ends one) are equal after normalise_answer (markers, case, punctuation and articles ignored),
    or one of them is the other followed by more words (a repeat that trails off into an extra clause). Sentences of
    fewer than MIN_REPEAT_WORDS words are ignored. A loop that never ends its sentence counts too: a run of at least
    MIN_LOOP_WORDS normalised words said twice in a row.

    Example: has_repeated_sentence("Blinken met Xi [1]. He met Xi Jinping. Blinken met Xi.") -> True
             has_repeated_sentence("Blinken met Xi [1]. Blinken met Xi in Beijing on Monday [2].") -> True
             has_repeated_sentence("He left because he was seeking new ties because he was seeking new ties") -> True
             has_repeated_sentence("Blinken met Xi [1]. Blinken met Wang Yi [2].") -> False
    """
    seen: list[list[str]] = []
    for start, end in sentence_spans(answer):
        words = normalise_answer(answer[start:end]).split()
        if len(words) < MIN_REPEAT_WORDS:
            continue
        for earlier in seen:
            shorter, longer = sorted((earlier, words), key=len)
            if longer[:len(shorter)] == shorter:
                return True
        seen.append(words)
    return _loops(normalise_answer(answer).split())


def token_f1(answer: str, golds: Iterable[str]) -> float:
    """Best SQuAD-style token F1 of the answer against any gold answer; 0.0 when there is no gold answer.

    Example: token_f1("Nicholas Burns, the ambassador", ["Nicholas Burns"]) -> 0.8   (P 2/3, R 2/2)
    """
    predicted = normalise_answer(answer).split()
    best = 0.0
    for gold in golds:
        expected = normalise_answer(gold).split()
        same = sum((Counter(predicted) & Counter(expected)).values())
        if same:
            precision, recall = same / len(predicted), same / len(expected)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def crag_score(answerable: bool, correct: bool, refused: bool) -> int:
    """CRAG-style score of one item: +1 right, 0 refused, -1 wrong (a hallucination costs more than a refusal).
    For an unanswerable item refusing is the right answer (+1) and any answer is wrong (-1).

    Example: crag_score(True, False, True) -> 0; crag_score(False, False, True) -> 1;
             crag_score(False, False, False) -> -1
    """
    if not answerable:
        return 1 if refused else -1
    if refused:
        return 0
    return 1 if correct else -1


def rate(flags: Sequence[bool]) -> float | None:
    """Share of True; None for no items.

    Example: rate([True, False, False, True]) -> 0.5; rate([]) -> None
    """
    return sum(map(bool, flags)) / len(flags) if flags else None


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None; None when there are none.

    Example: mean([1.0, None, 0.5]) -> 0.75
    """
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (honest at small n and at 0 or 1, unlike p +- 1.96 se).

    Example: wilson_interval(8, 10) -> (0.490, 0.943); wilson_interval(0, 0) -> (0.0, 1.0)
    """
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def percentile(values: Iterable[float | None], q: float) -> float | None:
    """The q-quantile (0..1) with linear interpolation between ranks, ignoring None; None for no values.

    Example: percentile([4, 1, 3, 2], 0.5) -> 2.5; percentile([1, 2, 3, 4, 5], 0.95) -> 4.8
    """
    ordered = sorted(v for v in values if v is not None)
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def hit_at_k(retrieved: Sequence[str], gold: Iterable[str], k: int) -> bool:
    """True when any gold source is among the first k distinct retrieved sources.

    Example: hit_at_k(["b.txt", "a.txt", "b.txt", "c.txt"], ["c.txt"], 2) -> False  (distinct: b, a | c)
    """
    wanted = set(gold)
    return any(source in wanted for source in list(dict.fromkeys(retrieved))[:k])


def reciprocal_rank(retrieved: Sequence[str], gold: Iterable[str]) -> float:
    """1/rank of the first gold source among the distinct retrieved sources; 0.0 when none is retrieved.

    Example: reciprocal_rank(["b.txt", "b.txt", "a.txt"], ["a.txt", "c.txt"]) -> 0.5
    """
    wanted = set(gold)
    return next((1 / rank for rank, s in enumerate(dict.fromkeys(retrieved), 1) if s in wanted), 0.0)


def citation_precision(cited: Iterable[str], gold: Iterable[str]) -> float | None:
    """Share of the distinct cited sources that are gold sources; None when nothing is cited.

    Example: citation_precision(["a.txt", "b.txt", "a.txt"], ["a.txt"]) -> 0.5
    """
    sources = set(cited)
    return len(sources & set(gold)) / len(sources) if sources else None


def citation_recall(cited: Iterable[str], gold: Iterable[str]) -> float | None:
    """Share of the gold sources that are cited; None when there is no gold source (unanswerable).

    Example: citation_recall(["a.txt"], ["a.txt", "c.txt"]) -> 0.5
    """
    wanted = set(gold)
    return len(set(cited) & wanted) / len(wanted) if wanted else None


def quote_is_exact(citation: Mapping, texts: Mapping[str, str]) -> bool:
    """True when the cited document's text[start:end] is exactly the quote (texts: source -> text as read).

    Example: quote_is_exact({"source": "a.txt", "quote": "met Xi", "start": 8, "end": 14},
                            {"a.txt": "Blinken met Xi on Monday."}) -> True
    """
    text, start, end = texts.get(citation.get("source")), citation.get("start"), citation.get("end")
    if text is None or not isinstance(start, int) or not isinstance(end, int):
        return False
    return 0 <= start < end <= len(text) and text[start:end] == citation.get("quote")


def quote_exactness(citations: Sequence[Mapping], texts: Mapping[str, str]) -> float | None:
    """Share of citations whose quote is verbatim at its offsets; None when there are no citations.

    Example: quote_exactness([{"source": "a.txt", "quote": "met Xi", "start": 8, "end": 14},
                              {"source": "a.txt", "quote": "met  Xi", "start": 8, "end": 14}],
                             {"a.txt": "Blinken met Xi on Monday."}) -> 0.5
    """
    return rate([quote_is_exact(c, texts) for c in citations])


def auc(scores: list[float], labels: list[int]) -> float | None:
    """Area under the ROC curve (ties count half): auc([0.9, 0.2, 0.6], [1, 0, 0]) -> 1.0"""
    positives = [s for s, y in zip(scores, labels) if y]
    negatives = [s for s, y in zip(scores, labels) if not y]
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))
