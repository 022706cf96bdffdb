"""Read a PDF into paragraphs, headings, list items and code: printed lines joined back into what was written.

Example: lines "3.2 Configuration" (bold), "The server reads its configu-", "ration from /etc/app.conf.", "• Restart it."
         -> [("heading", "3.2 Configuration", 2), ("paragraph", "The server reads its configuration from /etc/app.conf.", 0),
             ("item", "• Restart it.", 0)]
A line joins the one before it with a space unless something shows a new block starts: an empty line or a wider gap
than the page's line spacing, a change of font size or of fixed-pitch font, a line before it much shorter than the
document's typical line, a line before it that ends a sentence when this one is indented or starts with a capital (the
line before being short), or this line being a heading, a bullet ("•", "-", "1.", "a)") or a table-of-contents entry.
Headings: lines printed larger than the body text, numbered section lines ("3.2 Configuration"), bold short lines, and
short lines without sentence punctuation that stand alone. Lines all in a fixed-pitch font are code, kept line by line.
Hyphenation: "configu-" + "ration" -> "configuration" when the fragment is letters and the next line starts lower case,
unless the document spells the word with a hyphen elsewhere ("command-line"); a word split at a real hyphen that the
document never writes elsewhere loses its hyphen (the rule's limit). Running headers, footers and page numbers are
dropped first (pdf_lines.drop_running_lines).
"""

from __future__ import annotations

import re
from collections import Counter
from statistics import median

from rag.read.dates import find_date, parse_date
from rag.read.formats.pdf_lines import Line, body_size, drop_running_lines, page_lines
from rag.read.formats.plain_text import heading_like

_ENDS_SENTENCE = re.compile(r"[.!?:;][\"'”’)\]]*$")
# letters only with a parenthesis ("a)", "(b)"): "p. 11" and "e. coli" start sentences too
_BULLET = re.compile(r"([•◦▪▫●○■□‣⁃∙·*–—-]|\(?\d{1,3}[.)]|\(?[a-z]\))\s+\S")
_SECTION = re.compile(r"(?P<number>\d{1,2}(\.\d{1,2}){0,5})\.?\s+\S|(chapter|appendix|part)\s+[\dA-Z]", re.IGNORECASE)
_LEADERS = re.compile(r"(\s?\.){4,}\s*")
_BROKEN_WORD = re.compile(r"(?<![\w-])([^\W\d_]+)[-\u2010\u00ad]$")
_JUNK_TITLE = re.compile(r"^(microsoft (word|powerpoint|excel) - |untitled\b|document\d*$|slide \d+$)"
                         r"|\.(docx?|pdf|tex|dvi|rtf|odt|ps)$", re.IGNORECASE)

Piece = tuple[str, str, int]


class _Layout:
    """What is typical in this document: body font size, line length, line spacing, left margin of each page."""

    def __init__(self, pages: list[list[Line]]) -> None:
        lines = [line for page in pages for line in page]
        self.body = body_size(lines)
        body_lines = [line for line in lines if abs(line.size - self.body) < 0.6 and not line.mono]
        lengths = sorted(len(line.text) for line in body_lines) or [80]
        self.typical = lengths[int(0.85 * (len(lengths) - 1))]
        gaps = [a.y - b.y for page in pages for a, b in zip(page, page[1:]) if 0 < a.y - b.y < 3 * max(a.size, 1)]
        self.spacing = median(gaps) if gaps else 1.2 * self.body
        self.margins = [Counter(round(line.x) for line in page).most_common(1)[0][0] if page else 0 for page in pages]
        heading_sizes = {round(line.size) for line in lines if line.size > 1.15 * self.body and len(line.text.split()) <= 20}
        self.heading_sizes = sorted(heading_sizes, reverse=True)
        self.words = {w.lower() for line in lines for w in re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)+|[^\W\d_]+", line.text)}

    def heading_level(self, line: Line) -> int:
        section = _SECTION.match(line.text)
        if section and section["number"]:
            return min(section["number"].count(".") + 1, 6)
        if section:
            return 1
        larger = sum(size > round(line.size) for size in self.heading_sizes)
        return min(larger + 1, 6)


def _classify(line: Line, layout: _Layout) -> str:
    text, words = line.text, len(line.text.split())
    if _LEADERS.search(text) and len(text) < 2 * layout.typical:
        return "toc"
    if line.mono:
        return "code"
    ends = bool(_ENDS_SENTENCE.search(text))
    if line.size > 1.15 * layout.body and words <= 20 and any(c.isalpha() for c in text):
        return "heading"
    section = _SECTION.match(text)
    if section and words <= 12 and not ends and (line.bold or (section["number"] or "").count(".") >= 1):
        return "heading"
    if _BULLET.match(text):
        return "item"
    if line.bold and words <= 12 and not ends and heading_like(text):
        return "heading"
    return "text"


def _joined(before: str, after: str, words: set[str]) -> str:
    """before + after as one line of text, mending a word hyphenated across the break."""
    broken = _BROKEN_WORD.search(before)
    if before.endswith("\u00ad"):
        return before[:-1] + after
    if broken and after[:1].islower():
        head = re.match(r"[^\W\d_]+", after)
        fragment, rest = broken[1], head[0] if head else ""
        if f"{fragment}-{rest}".lower() in words and f"{fragment}{rest}".lower() not in words:
            return before + after
        return before[:-1] + after
    if before.endswith(("-", "\u2010", "—", "/")):
        return before + after
    return f"{before} {after}"


def _new_block(prev: Line, line: Line, kind: str, block_kind: str, block_x: float, page_break: bool,
               layout: _Layout, margin: float) -> bool:
    if kind in ("heading", "item", "toc") or block_kind in ("heading", "toc"):
        return not (kind == block_kind == "heading" and not page_break and abs(prev.size - line.size) < 0.5
                    and not _ENDS_SENTENCE.search(prev.text) and not _SECTION.match(line.text)
                    and prev.y - line.y < 2 * layout.spacing)
    if (kind == "code") != (block_kind == "code") or line.gap_before:
        return True
    if kind == "code":
        return not page_break and prev.y - line.y > 3 * layout.spacing
    ends = bool(_ENDS_SENTENCE.search(prev.text))
    full = len(prev.text) >= 0.8 * layout.typical
    if page_break or line.y > prev.y + line.size:  # a new page or a new column: continue only mid-sentence
        return ends or not (full or line.text[:1].islower())
    gap = prev.y - line.y
    if gap > max(1.45 * layout.spacing, layout.spacing + 0.4 * line.size) or abs(prev.size - line.size) > 0.15 * layout.body:
        return True
    if len(prev.text) < 0.6 * layout.typical:
        return True
    if ends and (line.x > margin + 0.8 * line.size and block_kind != "item"):
        return True
    if block_kind == "item" and ends and line.x <= block_x + 0.3 * line.size:
        return True
    return ends and len(prev.text) < 0.85 * layout.typical and line.text[:1].isupper()


def _pieces(pages: list[list[Line]], layout: _Layout) -> list[Piece]:
    pieces: list[Piece] = []
    kind, parts, first, prev, prev_page = "", [], None, None, -1
    for page_index, page in enumerate(pages):
        margin = layout.margins[page_index]
        for line in page:
            line_kind = _classify(line, layout)
            if prev is None or _new_block(prev, line, line_kind, kind, first.x, page_index != prev_page, layout, margin):
                if parts:
                    pieces.append(_piece(kind, parts, first, layout))
                kind, parts, first = line_kind, [line], line
            else:
                parts.append(line)
            prev, prev_page = line, page_index
    if parts:
        pieces.append(_piece(kind, parts, first, layout))
    return _stand_alone_headings(pieces, layout)


def _piece(kind: str, lines: list[Line], first: Line, layout: _Layout) -> Piece:
    if kind == "code":
        left = min(line.x for line in lines)
        width = 0.6 * (first.size or 1)
        return "code", "\n".join(" " * round((line.x - left) / width) + line.text for line in lines), 0
    text = lines[0].text
    for line in lines[1:]:
        text = _joined(text, line.text, layout.words)
    if kind == "toc":
        return "item", _LEADERS.sub(" ... ", text), 0
    if kind == "heading":
        return "heading", text, layout.heading_level(first)
    return ("item" if kind == "item" else "paragraph"), text, 0


def _stand_alone_headings(pieces: list[Piece], layout: _Layout) -> list[Piece]:
    """A one-line paragraph that is short, reads as a title and comes before a paragraph is a heading."""
    out = []
    for i, (kind, text, level) in enumerate(pieces):
        following = pieces[i + 1] if i + 1 < len(pieces) else None
        if kind == "paragraph" and len(text) < 0.6 * layout.typical and heading_like(text) and following \
                and following[0] in ("paragraph", "item", "code") and len(following[1]) > len(text):
            kind, level = "heading", min(len(layout.heading_sizes) + 1, 6)
        out.append((kind, text, level))
    return out


def read_pdf(stream) -> tuple[list[Piece], str, str]:
    """The (kind, text, level) pieces of a PDF, its title and its date ("" when none)."""
    from pypdf import PdfReader

    reader = PdfReader(stream)
    if reader.is_encrypted:
        reader.decrypt("")  # many PDFs are encrypted only to set permissions, with an empty password
    pages = page_lines(reader)
    drop_running_lines(pages)
    layout = _Layout(pages)
    pieces = _pieces(pages, layout)
    meta = reader.metadata or {}
    title = " ".join(str(meta.get("/Title") or "").split())
    if _JUNK_TITLE.search(title) or not any(c.isalpha() for c in title):
        title = next((text for kind, text, _ in pieces[:40] if kind == "heading"), "")
    date = parse_date(str(meta.get("/ModDate") or "")) or parse_date(str(meta.get("/CreationDate") or "")) \
        or find_date("\n".join(text for _, text, _ in pieces[:30]))
    return pieces, title, date
