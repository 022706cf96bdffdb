"""Split a document into chunks and sentences that know their exact offsets in the text as read.

Example: chunk_spans("First one. Second one.", chunk_size=256, chunk_overlap=32) -> [(0, 22)]
         sentence_spans("Title\nFirst one. Second one.") -> [(0, 5), (6, 16), (17, 28)]
         block_sentences("The port\nis 8080. It can change.", 0, 32) -> [(0, 17), (18, 32)]
Splitting runs on the normalised text (llama-index's SentenceSplitter); spans map back through the offset map.
"""

from __future__ import annotations

from functools import lru_cache

from rag.read.normalise import normalise


@lru_cache(maxsize=8)
def _splitter(chunk_size: int, chunk_overlap: int):
    from llama_index.core.node_parser import SentenceSplitter

    # paragraph_separator matches what normalise() leaves between paragraphs
    return SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap, paragraph_separator="\n\n")


@lru_cache(maxsize=1)
def _punkt():
    # The trained English Punkt model knows abbreviations ("U.S.", "Mr.") that untrained Punkt splits on. It ships
    # inside llama-index (_static/nltk_cache), so nothing is downloaded.
    from pathlib import Path

    import llama_index.core
    import nltk
    from nltk.tokenize.punkt import PunktTokenizer

    bundled = str(Path(llama_index.core.__file__).parent / "_static" / "nltk_cache")
    if bundled not in nltk.data.path:
        nltk.data.path.append(bundled)
    return PunktTokenizer("english")


def chunk_spans(text: str, chunk_size: int, chunk_overlap: int) -> list[tuple[int, int]]:
    """Original-text spans of the chunks, in order; overlapping by about chunk_overlap tokens."""
    norm = normalise(text)
    spans: list[tuple[int, int]] = []
    search_from = 0
    for chunk in _splitter(chunk_size, chunk_overlap).split_text(norm.text):
        at = norm.text.find(chunk, search_from)
        if at < 0:  # the splitter returns substrings; fall back to a search from the top rather than lose text
            at = norm.text.find(chunk)
        if at < 0:
            raise ValueError(f"splitter produced text not in the document: {chunk[:60]!r}")
        spans.append(norm.original_span(at, at + len(chunk)))
        search_from = at + 1
    return spans


def block_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans (offsets into text) of the sentences of the block text[start:end]. A line break inside the block is a
    space, not a sentence end: soft-wrapped lines and inline markup (read as one paragraph) stay one sentence.

    Example: block_sentences("Intro\n\nThe default port\nis 8080. It can change.", 7, 47) -> [(7, 32), (33, 47)]"""
    norm = normalise(text[start:end])
    flat = norm.text.replace("\n", " ")
    spans = []
    for s, e in _punkt().span_tokenize(flat):
        if flat[s:e].strip():
            a, b = norm.original_span(s, e)
            spans.append((start + a, start + b))
    return spans


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Original-text spans of the sentences of `text`; a line break always ends a sentence (headlines, captions).
    For text whose structure is unknown (a model's answer, a chunk read without its document's outline)."""
    norm = normalise(text)
    spans: list[tuple[int, int]] = []
    line_start = 0
    for line in norm.text.split("\n"):
        for start, end in _punkt().span_tokenize(line):
            if line[start:end].strip():
                spans.append(norm.original_span(line_start + start, line_start + end))
        line_start += len(line) + 1
    return spans


def embedding_text(text: str) -> str:
    """What gets embedded and keyword-indexed for a span: its normalised form."""
    return normalise(text).text
