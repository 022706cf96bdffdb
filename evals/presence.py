"""Where an answer is lost on its way to the model: is it in the retrieved chunks, among the ranked passages, in the
first look the model reads, in the first and second looks together?

Example: target = Target("d012", "Which port does tinc use?", answers=("655",))
         holds(target, [("tinc/Ports.html", 120, 190, "Port = <port> (655)")]) -> True
         stage_presence(target, chunks, ranked, looks) -> {"chunks": True, "ranked": True, "first_look": False,
                                                           "looks": True, "rank": 6}
An answer is present where its gold answer stands as whole words in the text (every key-term group, for items that
have them: evals.metrics.gives_answer, as a draft is scored); a question with no short answer (a term's or a FAQ
heading's question from the training corpus) is answered by a span of its document, present where a passage
overlaps it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from evals.metrics import gives_answer

STAGES = ("chunks", "ranked", "first_look", "looks")
Piece = tuple[str, int, int, str]  # source, start, end, text


@dataclass(frozen=True)
class Target:
    id: str
    question: str  # as retrieval searches it
    answers: tuple[str, ...] = ()
    key_terms: tuple[tuple[str, ...], ...] = ()
    spans: tuple[tuple[str, int, int], ...] = ()  # where the answer stands: (source, start, end)
    group: str = ""  # the split of an eval item, the package of a training question

    @property
    def answerable(self) -> bool:
        return bool(self.answers or self.spans)


def holds(target: Target, pieces: Iterable[Piece]) -> bool:
    """Whether these pieces of text, read together, hold the target's answer."""
    pieces = list(pieces)
    if target.answers:
        return gives_answer(" ".join(text for *_, text in pieces), target.answers, target.key_terms)
    return any(source == s and start < e and b < end for source, start, end, _ in pieces for s, b, e in target.spans)


def first_holding(target: Target, pieces: Sequence[Piece]) -> int | None:
    """The 1-based rank of the first piece that holds the answer alone, None when none does."""
    return next((n for n, piece in enumerate(pieces, 1) if holds(target, [piece])), None)


def as_pieces(evidence: Iterable) -> list[Piece]:
    """Evidence passages (rag.search.evidence.Evidence) as pieces, each with its header as the model reads it (a
    definition's term, a section's heading and a document's title are read there, not in the passage)."""
    return [(e.source, e.start, e.end, f"{e.header()}\n{e.text}") for e in evidence]


def stage_presence(target: Target, chunks: Sequence[Piece], ranked: Sequence[Piece],
                   looks: Sequence[Sequence[Piece]]) -> dict:
    """The answer at each stage (STAGES) and the rank of the first passage holding it alone."""
    first = list(looks[0]) if looks else []
    return {"chunks": holds(target, chunks), "ranked": holds(target, ranked), "first_look": holds(target, first),
            "looks": holds(target, [piece for look in looks for piece in look]),
            "rank": first_holding(target, ranked)}
