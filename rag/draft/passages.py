"""Passages to draft questions from: spread over every indexed document, each a few whole units of one block.

Example: list(itertools.islice(spread_passages(pipeline, seed=0), 2))
  -> [DraftPassage(source="tinc/Main-configuration-variables.html", start=5120, end=5398,
                   text="When this option is enabled, tinc will ...", header="tinc Manual > Main configuration ..."),
      DraftPassage(source="privoxy/user-manual/config.html", ...)]    one document after another, round robin
Paragraph sentences, list items, table rows and definitions alike (headings and code are shown as headers, not
drafted from); text == document_text[start:end] exactly.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from rag.errors import BadInputError
from rag.read.outline import Outline
from rag.search.evidence import Evidence
from rag.text import content_words, looks_like_instruction

MIN_CHARS, MAX_CHARS = 120, 480  # a passage says one thing a question can ask about, and stays a cheap prompt
MIN_CONTENT_WORDS = 6
_SKIPPED_KINDS = ("heading", "term", "code")


@dataclass(frozen=True)
class DraftPassage:
    source: str
    file_hash: str
    start: int
    end: int
    text: str
    header: str  # title and nearest headings, as the answer prompt shows a passage

    @property
    def key(self) -> str:
        return f"{self.source}:{self.start}-{self.end}"


def document_passages(source: str, file_hash: str, text: str, shape: Outline) -> list[DraftPassage]:
    """Every passage of one document: a unit, joined to the next units of its block while it is short."""
    found, units, at = [], shape.units, 0
    while at < len(units):
        unit = units[at]
        if shape.kinds[unit.block] in _SKIPPED_KINDS:
            at += 1
            continue
        stop = at
        while (units[stop].end - unit.start < MIN_CHARS and stop + 1 < len(units)
               and units[stop + 1].block == unit.block and units[stop + 1].end - unit.start <= MAX_CHARS):
            stop += 1
        start, end = unit.start, units[stop].end
        body = text[start:end]
        if (MIN_CHARS <= end - start <= MAX_CHARS and len(content_words(body)) >= MIN_CONTENT_WORDS
                and not looks_like_instruction(body) and sum(c.isalpha() for c in body) > 0.6 * len(body)):
            header = Evidence(source, body, start, end, 0.0, file_hash, shape.title, shape.sections[unit.block],
                              shape.date).header()
            found.append(DraftPassage(source, file_hash, start, end, body, header))
        at = stop + 1
    return found


def spread_passages(pipeline, seed: int = 0) -> Iterator[DraftPassage]:
    """Passages of every indexed document in a seeded order, one document at a time in turn, so that the first N
    cover as many documents as N allows. Raises BadInputError when the index has no usable passage."""
    manifest = sorted(pipeline.store.manifest().values(), key=lambda record: record.source)
    if not manifest:
        raise BadInputError(f"No documents are indexed: put files in {pipeline.settings.seeds_dir}/ and run "
                            "`python -m rag index`")
    rng = random.Random(seed)
    queues = []
    for record in manifest:
        known = pipeline.document(record.file_hash)
        if known is None:
            continue
        passages = document_passages(record.source, record.file_hash, *known)
        rng.shuffle(passages)
        if passages:
            queues.append(passages)
    if not queues:
        raise BadInputError(f"None of the {len(manifest)} indexed documents has a passage of prose to draft a question "
                            f"from ({MIN_CHARS}-{MAX_CHARS} characters, {MIN_CONTENT_WORDS}+ content words)")
    rng.shuffle(queues)
    while queues:
        for queue in list(queues):
            yield queue.pop()
            if not queue:
                queues.remove(queue)
