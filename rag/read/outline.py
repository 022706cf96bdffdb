"""A document's outline: its title, date, the section path of every block, and its evidence units.

Example: outline(read_document(Path("guide.html")))
  -> Outline(title="Server guide", date="2024-04-25", sections=["", "Configuration", ...], kinds=["heading", ...],
             units=[Unit(0, 12, 0), Unit(14, 60, 1), Unit(61, 118, 1), ...])
An evidence unit is a sentence of a paragraph (a short one joined to its neighbour, so no unit is a dangling
fragment), a heading, a list item, a table row or a few lines of code; units never cross a block, and
text[unit.start:unit.end] is exactly the unit. The outline is stored beside the document's text in the index.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from rag.read.chunking import block_sentences
from rag.read.formats.blocks import DEFINITION
from rag.read.readers import Block, DocumentText

MIN_UNIT_WORDS = 5  # a shorter sentence ("Yes.", "Default: 30.") joins its neighbour in the same block
MAX_UNIT_CHARS = 600  # a longer item, row or code block is cut (sentences, or lines for code)
SECTION_DEPTH = 2  # the headings shown above a passage: the nearest two are enough to place it


@dataclass(frozen=True)
class Unit:
    start: int
    end: int
    block: int  # index of the block holding it


@dataclass(frozen=True)
class Outline:
    title: str
    date: str
    sections: list[str]  # per block: the headings above it, outermost first, joined by " > "
    units: list[Unit]
    kinds: list[str]  # per block: heading, paragraph, item, row or code

    def to_json(self) -> str:
        return json.dumps({"title": self.title, "date": self.date, "sections": self.sections, "kinds": self.kinds,
                           "units": [[u.start, u.end, u.block] for u in self.units]}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Outline:
        raw = json.loads(text)
        return cls(raw["title"], raw["date"], raw["sections"], [Unit(*u) for u in raw["units"]], raw["kinds"])

    def section_at(self, offset: int) -> str:
        """The section path of the block holding (or first following) offset."""
        for unit in self.units:
            if unit.end > offset:
                return self.sections[unit.block]
        return self.sections[-1] if self.sections else ""


def section_paths(text: str, blocks: tuple[Block, ...], title: str = "") -> list[str]:
    """Per block, the nearest SECTION_DEPTH headings above it (a heading's own path ends with itself); a heading that
    only repeats the document title is left out, since the title is shown anyway. A definition list's term heads
    the blocks of its definition (an option's description is under the option's name)."""
    open_headings: list[tuple[int, str]] = []  # (level, text) from outermost to innermost
    paths = []
    for block in blocks:
        if block.kind in ("heading", "term"):
            # a Markdown heading's block is its line as written: "## Ports", or "Ports" over a "-----" line
            heading = " ".join(text[block.start:block.end].strip().splitlines()[0].strip("#").split())
            level = block.level or (DEFINITION if block.kind == "term" else 1)
            open_headings = [(lvl, h) for lvl, h in open_headings if lvl < level]
            if heading.casefold() != title.casefold():
                open_headings.append((level, heading))
        elif block.level != DEFINITION:  # past the end of a definition: its term no longer heads the text
            open_headings = [(lvl, h) for lvl, h in open_headings if lvl < DEFINITION]
        paths.append(" > ".join(h for _, h in open_headings[-SECTION_DEPTH:]))
    return paths


def _cut(text: str, start: int, end: int, code: bool) -> list[tuple[int, int]]:
    """Pieces of a long block under MAX_UNIT_CHARS: runs of whole lines for code, sentences otherwise."""
    if end - start <= MAX_UNIT_CHARS:
        return [(start, end)]
    pieces: list[tuple[int, int]] = []
    if code:
        at = start
        while at < end:
            stop = text.rfind("\n", at, min(end, at + MAX_UNIT_CHARS))
            stop = end if end - at <= MAX_UNIT_CHARS or stop <= at else stop
            if text[at:stop].strip():
                first = at + len(text[at:stop]) - len(text[at:stop].lstrip())
                pieces.append((first, stop))
            at = stop + 1
        return pieces
    return block_sentences(text, start, end) or [(start, end)]


def _joined(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sentences with every short one joined to the one before it (or, for the first, the one after it)."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if out and (len(text[start:end].split()) < MIN_UNIT_WORDS or len(text[out[-1][0]:out[-1][1]].split()) < MIN_UNIT_WORDS):
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def outline(doc: DocumentText) -> Outline:
    """The outline of a document as read (see the module docstring)."""
    units: list[Unit] = []
    for number, block in enumerate(doc.blocks):
        if block.kind == "paragraph":
            spans = _joined(doc.text, block_sentences(doc.text, block.start, block.end) or [(block.start, block.end)])
        else:
            spans = _cut(doc.text, block.start, block.end, code=block.kind == "code")
        units.extend(Unit(start, end, number) for start, end in spans)
    return Outline(doc.title, doc.date, section_paths(doc.text, doc.blocks, doc.title), units,
                   [block.kind for block in doc.blocks])
