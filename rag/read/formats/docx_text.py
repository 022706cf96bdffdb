"""Read a .docx in document order: headings with their level, list paragraphs as items, each table row as a row.

Example: a document with a "Heading 1" paragraph "Ports", a "List Bullet" paragraph "Use 8080." and a 2x2 table
         -> [("heading", "Ports", 1), ("item", "Use 8080.", 0), ("row", "Port | Use", 0), ("row", "8080 | web", 0)]
Paragraph styles decide: Title is a level-1 heading, "Heading N" (or a style based on one) level N; List styles or
numbering make an item. Merged table cells are read once; a table inside a cell is read into that cell's text.
"""

from __future__ import annotations

import re

from rag.read.dates import parse_date

_HEADING = re.compile(r"heading\s*(\d)", re.IGNORECASE)
_SPACE = re.compile(r"[ \t\r\f\v]+")
# python-docx's blank template carries this creation time; a document made from it has no date of its own
_TEMPLATE_STAMP = "2013-12-23T23:15:00"

Piece = tuple[str, str, int]


def _style_kind(paragraph) -> tuple[str, int]:
    style = paragraph.style
    for _ in range(4):  # follow "based on" a few steps: custom heading styles are based on the built-in ones
        if style is None:
            break
        name = style.name or ""
        if name == "Title":
            return "heading", 1
        heading = _HEADING.fullmatch(name.strip())
        if heading:
            return "heading", min(max(int(heading[1]), 1), 6)
        if name.startswith("List"):
            return "item", 0
        style = style.base_style
    p_pr = paragraph._p.pPr
    if p_pr is not None and p_pr.numPr is not None:
        return "item", 0
    return "paragraph", 0


def _clean(text: str) -> str:
    return "\n".join(_SPACE.sub(" ", line).strip() for line in text.split("\n")).strip()


def _cell_text(cell) -> str:
    from docx.table import Table

    parts = []
    for inner in cell.iter_inner_content():
        parts.append(" ".join(_row_text(row) for row in inner.rows) if isinstance(inner, Table) else inner.text)
    return " ".join(_clean(p).replace("\n", " ") for p in parts if p.strip())


def _row_text(row) -> str:
    cells, seen = [], set()
    for cell in row.cells:
        if id(cell._tc) in seen:  # a merged cell is returned once per grid column it spans
            continue
        seen.add(id(cell._tc))
        cells.append(_cell_text(cell))
    while cells and not cells[-1]:
        cells.pop()
    return re.sub(" {2,}", " ", " | ".join(cells))  # an empty cell between two reads "a | | b"


def read_docx(stream) -> tuple[list[Piece], str, str]:
    """The (kind, text, level) pieces of a .docx, its title and its date ("" when none)."""
    import docx
    from docx.table import Table

    document = docx.Document(stream)
    pieces: list[Piece] = []
    for content in document.iter_inner_content():
        if isinstance(content, Table):
            pieces.extend(("row", _row_text(row), 0) for row in content.rows)
        else:
            kind, level = _style_kind(content)
            pieces.append((kind, _clean(content.text), level))
    pieces = [piece for piece in pieces if piece[1]]
    props = document.core_properties
    title = _clean(props.title or "").replace("\n", " ")
    if not title:
        title = next((text for kind, text, level in pieces if kind == "heading" and level == 1), "")
    stamps = [s.isoformat() for s in (props.modified, props.created) if s and not s.isoformat().startswith(_TEMPLATE_STAMP)]
    return pieces, title, parse_date(stamps[0]) if stamps else ""
