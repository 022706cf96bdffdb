from pathlib import Path

import pytest

from rag.read.chunking import chunk_spans, sentence_spans
from rag.read.normalise import normalise

SEEDS = sorted((Path(__file__).resolve().parents[1] / "seeds").glob("*.txt"))


def test_normalise_maps_every_character_back():
    original = "  A\u00a0 \u201cquote\u201d\r\n\r\nB\x07C ﬁne\n"
    norm = normalise(original)
    assert norm.text == 'A "quote"\n\nBC fine'
    for i, char in enumerate(norm.text):
        source = original[norm.offsets[i]]
        assert char == source or char.isspace() and source.isspace() or char in "\"fi"


def test_original_span_covers_the_same_words():
    original = "Hello,\u00a0\u00a0world. Next  one."
    norm = normalise(original)
    i = norm.text.index("world")
    start, end = norm.original_span(i, i + len("world."))
    assert original[start:end] == "world."


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
@pytest.mark.parametrize(("size", "overlap"), [(128, 16), (256, 32)])
def test_chunks_are_exact_slices_that_cover_the_document(path, size, overlap):
    text = path.read_text(encoding="utf-8")
    spans = chunk_spans(text, size, overlap)
    assert spans and spans == sorted(spans)
    covered = set()
    for start, end in spans:
        assert 0 <= start < end <= len(text)
        assert text[start:end] == text[start:end].strip()
        covered.update(range(start, end))
    words = [i for i, ch in enumerate(text) if not ch.isspace()]
    assert all(i in covered for i in words), "every non-space character belongs to some chunk"


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_sentences_are_exact_and_do_not_split_abbreviations(path):
    text = path.read_text(encoding="utf-8")
    spans = sentence_spans(text)
    assert len(spans) > 5
    for start, end in spans:
        assert text[start:end].strip() == text[start:end]
        assert not text[start:end].endswith((" U.S.", " D.C."))  # abbreviations do not end sentences


def test_line_breaks_end_sentences():
    assert sentence_spans("Headline without stop\nFirst one. Second one.") == [(0, 21), (22, 32), (33, 44)]
