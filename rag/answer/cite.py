"""Citations and grounding: resolve the model's [n] markers to verbatim quotes and check each sentence against them.

Example: with evidence [E1 "Blinken met Xi Jinping on Monday."], the generation
  "Blinken met Xi Jinping [1]. Canberra is the capital [1]. See [7]."
  -> text "Blinken met Xi Jinping [1]. Canberra is the capital [1]. See." ([7] is out of range and dropped),
     citations [Citation(1, source, quote="Blinken met Xi Jinping on Monday.", start, end)],
     claims: sentence 1 supported, sentence 2 not (no shared content) -> grounding 0.5
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.read.chunking import sentence_spans
from rag.search.evidence import Evidence, SentenceVectors
from rag.text import content_words, cosine

# "[2]", "[1, 3]", "[Source 2]", "[Passage 1 and 2]": whatever label we use, small models write variants of it
MARKER = re.compile(r"\s*\[\s*(?:(?:source|passage|evidence|doc(?:ument)?)\s*)?"
                    r"(\d{1,3}(?:\s*(?:,|;|and|&)\s*(?:(?:source|passage|evidence)\s*)?\d{1,3})*)\s*\]", re.I)
_NUMBER = re.compile(r"\d+")
_META = re.compile(r"\b(passage|evidence|source|document)s?\b", re.I)

# A sentence is supported by a quote when most of its content words occur there, or when it means nearly the same
# and still shares some words; calibrated on the eval answers (docs/decisions.md, "Verification thresholds").
MIN_LEXICAL = 0.5
MIN_COSINE = 0.6
MIN_LEXICAL_WITH_COSINE = 0.25


_META_WORDS = content_words(
    "passage passages evidence source sources document documents support supported supports state stated mention "
    "mentioned according provided given information based number numbered answer cited cite 1 2 3 4 5 6 7 8 9 10")


@dataclass(frozen=True)
class Citation:
    number: int
    source: str
    quote: str
    start: int
    end: int

    def public(self) -> dict:
        return {"source": self.source, "quote": self.quote, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Claim:
    sentence: str
    cited: tuple[int, ...]  # passage numbers the claim is attributed to after verification
    support: float  # best support score of the passages it was checked against, 0..1
    supported: bool


def split_markers(text: str, count: int) -> tuple[str, list[tuple[str, tuple[int, ...]]]]:
    """Normalise markers to "[n]", drop out-of-range numbers, and split into (sentence, cited numbers) pairs."""
    def rewrite(match: re.Match) -> str:
        numbers = [int(n) for n in _NUMBER.findall(match.group(1))]
        kept = [n for n in dict.fromkeys(numbers) if 1 <= n <= count]
        return "".join(f" [{n}]" for n in kept)

    clean = MARKER.sub(rewrite, text).strip()
    claims = []
    for start, end in sentence_spans(clean):
        sentence = clean[start:end]
        cited = tuple(dict.fromkeys(int(n) for n in re.findall(r"\[(\d+)\]", sentence)))
        bare = re.sub(r"\s*\[\d+\]", "", sentence).strip()
        if is_meta(bare):  # "This is supported by passage [3]." says nothing to verify
            if cited and claims:
                previous, numbers = claims[-1]
                claims[-1] = (previous, tuple(dict.fromkeys(numbers + cited)))
            continue
        if cited and not content_words(bare) and claims:  # a marker that spilled past the full stop: "... . [2]"
            previous, numbers = claims[-1]
            claims[-1] = (previous, tuple(dict.fromkeys(numbers + cited)))
        elif bare:
            claims.append((bare, cited))
    return clean, claims


def is_meta(sentence: str) -> bool:
    """True for sentences about the passages rather than the question: "This is supported by passage 3." """
    return bool(_META.search(sentence)) and not (content_words(sentence) - _META_WORDS)


def lexical_support(sentence: str, quote: str, question: str = "") -> float:
    """Share of what the sentence adds to the question (its new content words) that the quote contains.

    A number the quote lacks scores 0 (an invented fact however many words match); a sentence that only restates
    the question adds nothing and scores 0 ("Blinken ate at the banquets [1]" for "What did Blinken eat?").
    """
    new = content_words(sentence) - content_words(question)
    if not new:
        return 0.0
    if not set(_NUMBER.findall(sentence)) - set(_NUMBER.findall(question)) <= set(_NUMBER.findall(quote)):
        return 0.0
    return len(new & content_words(quote)) / len(new)


def _supports(lexical: float, similarity: float) -> bool:
    return lexical >= MIN_LEXICAL or (similarity >= MIN_COSINE and lexical >= MIN_LEXICAL_WITH_COSINE)


def as_read(item: Evidence) -> str:
    """A passage as the model reads it, its header before its text: "the 2024 visit" is supported by a passage dated
    2024 that says "the visit"."""
    return f"{item.header()} {item.text}"


def verify(claims: list[tuple[str, tuple[int, ...]]], evidence: list[Evidence], vectors: SentenceVectors,
           question: str = "") -> list[Claim]:
    """Check each claim against the passages it cites; a claim whose citation is wrong or missing is re-attributed
    to the passage that does support it, if one does (small models often mis-number), else flagged unsupported."""
    if not claims:
        return []
    texts = [sentence for sentence, _ in claims] + [item.text for item in evidence]
    embedded = vectors.vectors(texts)
    claim_vectors, passage_vectors = embedded[: len(claims)], embedded[len(claims):]
    read = [as_read(item) for item in evidence]
    checked = []
    for (sentence, cited), vector in zip(claims, claim_vectors):
        scores = {}
        for number, (text, passage_vector) in enumerate(zip(read, passage_vectors), 1):
            lexical = lexical_support(sentence, text, question)
            similarity = cosine(vector, passage_vector)
            scores[number] = (_supports(lexical, similarity), max(lexical, similarity))
        good = [n for n in cited if scores[n][0]]
        if not good and len(cited) > 1:  # a sentence may combine facts from the passages it cites together
            joined = " ".join(read[n - 1] for n in cited)
            if lexical_support(sentence, joined, question) >= MIN_LEXICAL:
                good = list(cited)
        if not good and len(cited) == 1:  # the fact of the passage it cites and one from another (a date, a name)
            good = _completed_by_another(sentence, cited[0], read, question)
        if not good:  # the supporting passage that matches best (a closer one that does not support it is no help)
            best = max((n for n in scores if scores[n][0]), key=lambda n: scores[n][1], default=None)
            good = [best] if best is not None else []
        attributed = tuple(good) if good else cited
        support = max((scores[n][1] for n in attributed), default=0.0)
        checked.append(Claim(sentence, attributed, round(support, 3), bool(good)))
    return checked


def _completed_by_another(sentence: str, cited: int, read: list[str], question: str) -> list[int]:
    """[cited, other] when the cited passage holds some of what the sentence adds and one other passage the rest (the
    best such other), else []: "30 million used Threads on its first day, July 6th [2]" where [1] gives the date.
    read: the passages as the model reads them (as_read), numbered from 1."""
    new = content_words(sentence) - content_words(question)
    if not 1 <= cited <= len(read) or not new or len(new & content_words(read[cited - 1])) < len(new) / 4:
        return []  # the cited passage holds under a quarter of it: not a combination, a mis-citation
    joined = {n: lexical_support(sentence, f"{read[cited - 1]} {read[n - 1]}", question)
              for n in range(1, len(read) + 1) if n != cited}
    best = max(joined, key=joined.get, default=None)
    return [cited, best] if best is not None and joined[best] >= MIN_LEXICAL else []


def grounding(claims: list[Claim]) -> float:
    """Supported claims / claims (0.0 for no claims)."""
    return sum(claim.supported for claim in claims) / len(claims) if claims else 0.0


def quote_span(item: Evidence, sentences: list[str], question: str = "") -> tuple[int, int]:
    """The part of a passage the sentences rest on: the run of its units from the first to the last one holding
    words the sentences add to the question; the whole passage when none does (support by meaning alone)."""
    holding = [(start, end) for start, end in item.parts
               if any(lexical_support(s, item.text[start - item.start:end - item.start], question) > 0 for s in sentences)]
    return (holding[0][0], holding[-1][1]) if holding else (item.start, item.end)


def citations_for(claims: list[Claim], evidence: list[Evidence], question: str = "") -> list[Citation]:
    """One Citation per passage number used by a supported claim, in first-use order, quoting the part of the
    passage those claims rest on (an exact slice of the document, like the passage)."""
    used = dict.fromkeys(n for claim in claims if claim.supported for n in claim.cited)
    citations = []
    for n in used:
        item = evidence[n - 1]
        start, end = quote_span(item, [c.sentence for c in claims if c.supported and n in c.cited], question)
        citations.append(Citation(n, item.source, item.text[start - item.start:end - item.start], start, end))
    return citations


def render_answer(claims: list[Claim]) -> str:
    """The answer text rebuilt from checked claims, each supported one carrying its verified passage numbers
    (which may differ from the ones the model wrote): "Blinken met Xi [1]. He left on Monday [2]." """
    parts = []
    for claim in claims:
        markers = "".join(f" [{n}]" for n in claim.cited) if claim.supported else ""
        body, end = (claim.sentence[:-1], claim.sentence[-1]) if claim.sentence[-1:] in ".!?" else (claim.sentence, "")
        parts.append(f"{body}{markers}{end}")
    return " ".join(parts)
