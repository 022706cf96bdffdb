"""Blocks: the paragraphs, headings, list items, table rows and code of a document, as spans of its text.

Example: assemble([("heading", "Ports", 1), ("paragraph", "The default port is 8080.", 0)])
         -> ("Ports\n\nThe default port is 8080.", (Block(0, 5, "heading", 1), Block(7, 32, "paragraph", 0)))
Readers that make their text (html, pdf, docx) build it with assemble(); txt/md find blocks in the file as read.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass

KINDS = ("heading", "term", "paragraph", "item", "row", "code")
# A definition list's term (an option's name above its description in a manual) heads its definition like a heading
# one level below any other; the blocks of the definition carry the same level, so the term closes where they end.
DEFINITION = 7


@dataclass(frozen=True)
class Block:
    start: int  # text[start:end] is the block's text, no surrounding space
    end: int
    kind: str  # one of KINDS
    level: int = 0  # 1..6 for headings; DEFINITION for a term and the blocks of its definition; 0 otherwise


def assemble(pieces: Iterable[tuple[str, str, int]]) -> tuple[str, tuple[Block, ...]]:
    """Join (kind, text, level) pieces with a blank line between them; empty pieces are left out.

    Code keeps its lines and their indentation relative to each other; other text is taken as given (readers
    collapse its spaces first)."""
    parts: list[str] = []
    blocks: list[Block] = []
    at = 0
    for kind, text, level in pieces:
        if kind == "code":
            text = textwrap.dedent(text.expandtabs()).strip("\n").rstrip()
        else:
            text = text.strip()
        if not text.strip():
            continue
        if parts:
            parts.append("\n\n")
            at += 2
        lead = len(text) - len(text.lstrip())  # a code block's first line may be indented more than the rest
        kept = level if kind == "heading" or level == DEFINITION else 0
        blocks.append(Block(at + lead, at + len(text), kind, kept))
        parts.append(text)
        at += len(text)
    return "".join(parts), tuple(blocks)

