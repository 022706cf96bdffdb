"""Well-formed answers: repeats cut while the model writes, duplicate claims dropped, and the shapes of a non-answer.

Example: loop_start("Blinken met Xi [1]. He left on Monday [2]. Blinken met Xi [1].") -> 42  (the repeat starts there)
         without_repeats(["Blinken met Xi.", "He met Xi in Beijing.", "Blinken met Xi."]) -> ([...first two...], 1)
         dangling("The meeting was held in [2].") -> True
         contradicts(["Yes.", "He did not attend the summit."], "Did he attend the summit?") -> True
"""

from __future__ import annotations

import re

from rag.read.chunking import sentence_spans
from rag.text import content_words

MIN_REPEAT_WORDS = 3  # "Yes." twice is not a loop
MIN_LOOP_WORDS = 6  # a run of this many words said twice in a row is a loop inside one sentence
MARKERS = re.compile(r"\s*\[[^\]]*\]")  # any bracketed marker the model writes: [1], [Source 2]
_WORD = re.compile(r"[a-z0-9]+")
# A sentence that stops where its answer should stand: "... held in [2].", "The port is [1]."
_DANGLING = re.compile(r"\b(in|on|at|by|of|to|from|with|for|is|are|was|were|be|the|a|an|and|or|as|than|called|named"
                       r"|between|into|about)\s*$", re.I)
_NEGATION = re.compile(r"\b(not|no|never|none|neither|nor|cannot|without)\b|n't\b", re.I)
# the model saying the passages don't answer, in the words small models use for it
_NON_ANSWER = re.compile(
    r"\b(?:not (?:mentioned|stated|specified|provided|given|said|known|clear|available|included)"
    r"|(?:does|do|did) not (?:mention|say|state|specify|provide|contain|include|give|indicate)"
    r"|no (?:information|mention|details?|data)|cannot be (?:determined|answered|found)|unable to"
    r"|(?:don't|doesn't|do not) (?:know|say))\b", re.I)


def words(sentence: str) -> list[str]:
    return _WORD.findall(MARKERS.sub(" ", sentence).lower())


def _repeats(earlier: list[str], later: list[str]) -> bool:
    shorter, longer = sorted((earlier, later), key=len)
    return len(shorter) >= MIN_REPEAT_WORDS and longer[: len(shorter)] == shorter


def _loops(tokens: list[str]) -> int | None:
    """Index of the second copy of a run of >= MIN_LOOP_WORDS words said twice in a row, or None."""
    for size in range(MIN_LOOP_WORDS, len(tokens) // 2 + 1):
        for at in range(0, len(tokens) - 2 * size + 1):
            if tokens[at:at + size] == tokens[at + size:at + 2 * size]:
                return at + size
    return None


def loop_start(text: str) -> int | None:
    """Character offset where the draft starts repeating itself (a sentence said again, or a run of words said twice
    in a row), or None. Checked while streaming: the engine stops the model there."""
    seen: list[list[str]] = []
    for start, end in sentence_spans(text):
        current = words(text[start:end])
        if _loops(current) is not None:
            return _loop_offset(text, start, end)
        finished = text[end - 1:end] in ".!?" or end < len(text.rstrip())
        if finished and any(_repeats(before, current) for before in seen):
            return start
        seen.append(current)
    return None


def _loop_offset(text: str, start: int, end: int) -> int:
    """The character where the second copy of a looping run begins inside text[start:end]."""
    tokens = [(m.start(), m.group()) for m in _WORD.finditer(text.lower(), start, end)]
    second = _loops([t for _, t in tokens])
    return tokens[second][0] if second is not None else start


def without_repeats(sentences: list[str]) -> tuple[list[str], int]:
    """The sentences with every repeat of an earlier one removed (where one extends the other, the longer stays in
    the earlier place), and how many were dropped."""
    kept: list[str] = []
    dropped = 0
    for sentence in sentences:
        current = words(sentence)
        match = next((i for i, before in enumerate(kept) if _repeats(words(before), current)), None)
        if match is None:
            kept.append(sentence)
            continue
        dropped += 1
        if len(current) > len(words(kept[match])):
            kept[match] = sentence
    return kept, dropped


def dangling(sentence: str) -> bool:
    """True for a sentence that stops where its answer should stand and puts a marker there: "... held in [2]." """
    body = MARKERS.sub("", sentence).strip().rstrip(".!?:;,").strip()
    return bool(_DANGLING.search(body)) or not body


def contradicts(sentences: list[str], question: str) -> bool:
    """True for a "Yes" that the rest of the answer takes back: "Yes. He did not attend." for "Did he attend ...?"
    (a later sentence with a negation that repeats most of what the question asks)."""
    if len(sentences) < 2 or words(sentences[0])[:1] != ["yes"]:
        return False
    asked = content_words(question)
    for sentence in sentences[1:]:
        if _NEGATION.search(sentence) and asked and len(content_words(sentence) & asked) * 2 >= len(asked):
            return True
    return False


def says_not_answered(text: str) -> bool:
    """True when the draft says the passages don't give the answer ("The passages do not mention what they ate.")."""
    return bool(_NON_ANSWER.search(MARKERS.sub(" ", text)))
