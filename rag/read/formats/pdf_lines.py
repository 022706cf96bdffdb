"""The printed lines of a PDF, page by page, with where and in what font pypdf saw each one; running heads dropped.

Example: page_lines(PdfReader("bashref.pdf"))[20][:2]
         -> [Line("Chapter 3: Basic Shell Features 15", x=90.0, y=733.9, size=10.9), Line("is enabled, the match ...", ...)]
         drop_running_lines(pages) then removes "Chapter 3: Basic Shell Features 15" from every page that has it.
The lines are pypdf's own extract_text() lines; a visitor records each line's position and fonts as pypdf emits it,
so reading costs little more than extract_text().
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

_MONO = re.compile(r"mono|courier|consol|cmtt|sftt|typewriter|code|menlo|inconsolata|fixed", re.IGNORECASE)
_BOLD = re.compile(r"bold|black|heavy|semibold|demi|cmbx|-bd\b", re.IGNORECASE)
_PAGE_NUMBER = re.compile(r"(page\s+)?([ivxlcdm]+|\d{1,4})(\s*(/|of)\s*\d{1,4})?|[-–—]\s*\d{1,4}\s*[-–—]", re.IGNORECASE)
_NUMBER_AT_END = re.compile(r"^(?P<a>\d{1,4})\s+\S|\S\s+(?P<b>\d{1,4})(\s*(/|of)\s*\d{1,4})?$")
WORD_GAP = 150  # a TJ move of 0.15 em or more to the left is a space between words (kerning stays well under it)


@dataclass
class Line:
    text: str
    x: float = 0.0
    y: float = 0.0
    size: float = 0.0  # font size in points, as printed
    mono: bool = False  # every letter in a fixed-pitch font
    bold: bool = False  # every letter in a bold font
    gap_before: bool = False  # pypdf saw an empty line before this one


class _LineCollector:
    """visitor_text for extract_text(): cuts pypdf's output into lines and notes each line's position and fonts."""

    def __init__(self) -> None:
        self.lines: list[Line] = []
        self.parts: list[str] = []
        self.start: tuple[float, float, float] | None = None
        self.letters = self.mono = self.bold = 0
        self.fonts: dict[int, tuple[bool, bool]] = {}
        self.blank = False

    def _font(self, font) -> tuple[bool, bool]:
        if font is None:
            return False, False
        key = id(font)
        if key not in self.fonts:
            name = str(font.get("/BaseFont", ""))
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and font.get("/DescendantFonts"):
                descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            flags = int(descriptor.get_object().get("/Flags", 0)) if descriptor is not None else 0
            self.fonts[key] = (bool(_MONO.search(name)) or bool(flags & 1), bool(_BOLD.search(name)) or bool(flags & 1 << 18))
        return self.fonts[key]

    def visit(self, text: str, cm: list[float], tm: list[float], font, size: float) -> None:
        if not text:
            return
        # position and size as printed: the text matrix in the page's coordinates
        a, b, c, d, e, f = tm
        m = [a * cm[0] + b * cm[2], a * cm[1] + b * cm[3], c * cm[0] + d * cm[2], c * cm[1] + d * cm[3],
             e * cm[0] + f * cm[2] + cm[4], e * cm[1] + f * cm[3] + cm[5]]
        printed = size * math.hypot(m[2], m[3])
        mono, bold = self._font(font)
        x, y = m[4], m[5]
        for i, piece in enumerate(text.split("\n")):
            if i:
                self.end_line()
                y -= 1.2 * printed  # a further line in the same call: pypdf gave no position for it
            letters = sum(not ch.isspace() for ch in piece)
            if letters and not self.letters:
                self.start = (x, y, printed)
            self.letters += letters
            self.mono += letters * mono
            self.bold += letters * bold
            self.parts.append(piece)

    def end_line(self) -> None:
        text = "".join(self.parts).strip()
        if text and self.start:
            x, y, size = self.start
            self.lines.append(Line(text, x, y, size, self.mono == self.letters, self.bold == self.letters, self.blank))
            self.blank = False
        elif self.lines:
            self.blank = True
        self.parts, self.letters, self.mono, self.bold = [], 0, 0, 0
        self.start = None


class _WordGaps:
    """visitor_operand_before that marks word gaps pypdf misses.

    pypdf takes a font's space width from the glyph at code 0x20 when the font maps no glyph to a space; in Identity-H
    fonts (XeTeX, LuaTeX, dblatex, Sphinx's LaTeX) that glyph is some letter, so the word gaps these PDFs draw as TJ
    moves fall under pypdf's threshold and words come out glued ("Thisisthesame"). For such fonts a space is put into
    the TJ before each gap, followed by a move that cancels the space's width so pypdf's positions stay as they were."""

    def __init__(self, fonts, cache: dict) -> None:
        self.fonts = fonts  # the page's /Font resources
        self.cache = cache  # font object id -> pypdf's space width when it is wrong, else None
        self.width: float | None = None
        self.stack: list[float | None] = []

    def _space_width(self, name) -> float | None:
        try:
            from pypdf.generic._font import Font

            font = self.fonts[name].get_object()
            if id(font) not in self.cache:
                parsed = Font.from_font_resource(font)
                broken = parsed.space_char == " " and parsed.space_width / 2 * 0.95 > WORD_GAP
                self.cache[id(font)] = float(parsed.space_width) if broken else None
            return self.cache[id(font)]
        except Exception:  # no such font here (a form's own resources), or pypdf changed: leave pypdf's result alone
            return None

    def __call__(self, operator: bytes, operands: list, cm, tm) -> None:
        if operator == b"Tf" and operands:
            self.width = self._space_width(operands[0])
        elif operator == b"q":
            self.stack.append(self.width)
        elif operator == b"Q" and self.stack:
            self.width = self.stack.pop()
        elif operator == b"TJ" and self.width and operands and isinstance(operands[0], list):
            from pypdf.generic import FloatObject, TextStringObject

            items, out = operands[0], []
            for item in items:
                is_move = isinstance(item, (int, float)) and not isinstance(item, bool)
                if is_move and -item >= WORD_GAP and out and isinstance(out[-1], (str, bytes)) and out[-1] != " ":
                    out += [TextStringObject(" "), FloatObject(self.width)]
                out.append(item)
            items[:] = out


def page_lines(reader) -> list[list[Line]]:
    """The lines of every page, in pypdf's reading order."""
    pages, cache = [], {}
    for page in reader.pages:
        collector = _LineCollector()
        try:
            fonts = page["/Resources"]["/Font"].get_object()
        except (KeyError, TypeError, AttributeError):
            fonts = {}
        page.extract_text(visitor_text=collector.visit, visitor_operand_before=_WordGaps(fonts, cache))
        collector.end_line()
        pages.append(collector.lines)
    return pages


def body_size(lines: list[Line]) -> float:
    """The font size most letters are printed in."""
    sizes = Counter()
    for line in lines:
        sizes[round(line.size * 2) / 2] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def _edges(lines: list[Line]) -> tuple[set[int], set[int]]:
    """Indexes of the lines a running head or foot could be: the outermost (first, last, top, bottom) and, with them,
    the second and the second to last."""
    if not lines:
        return set(), set()
    ys = [line.y for line in lines]
    outer = {0, len(lines) - 1, ys.index(max(ys)), ys.index(min(ys))}
    return outer, (outer | {1, len(lines) - 2}) & set(range(len(lines)))


def drop_running_lines(pages: list[list[Line]]) -> None:
    """Remove running headers and footers and bare page numbers, in place; needs three pages or more to tell.

    A line at the top or bottom of a page goes when, not printed larger than the body text: it is only a page number
    on a document where three pages or more have one there; or, as the outermost line, it starts or ends with a number
    that follows the page count (the same offset from the page index on three pages and a fifth of them); or, without its
    page number, it is the same text at the same height at the edge of three pages or more (and of one page in twenty)."""
    if len(pages) < 3:
        return
    body = body_size([line for page in pages for line in page])
    edges = [_edges(page) for page in pages]
    offsets, texts, bare_pages = Counter(), Counter(), 0
    for index, (page, (outer, edge)) in enumerate(zip(pages, edges)):
        offsets.update({_page_number(page[i].text) - index for i in outer if _page_number(page[i].text) is not None})
        texts.update({_running_key(page[i]) for i in edge})
        bare_pages += any(_PAGE_NUMBER.fullmatch(page[i].text) for i in edge)
    numbered = {offset for offset, n in offsets.items() if n >= max(3, len(pages) / 5)}
    for index, (page, (outer, edge)) in enumerate(zip(pages, edges)):
        drop = set()
        for i in edge:
            line = page[i]
            if line.size > body * 1.15 or len(line.text.split()) > 15:
                continue
            number = _page_number(line.text) if i in outer else None
            if (_PAGE_NUMBER.fullmatch(line.text) and bare_pages >= 3) \
                    or (number is not None and number - index in numbered) \
                    or (texts[_running_key(line)] >= max(3, len(pages) / 20) and any(c.isalpha() for c in line.text)):
                drop.add(i)
        if drop:
            pages[index] = [line for i, line in enumerate(page) if i not in drop]
            if pages[index] and min(drop) == 0:
                pages[index][0].gap_before = False


def _page_number(text: str) -> int | None:
    """The number a line starts or ends with ("Chapter 3: Features 25" -> 25), if any."""
    number = _NUMBER_AT_END.search(text)
    return int(number["a"] or number["b"]) if number else None


def _running_key(line: Line) -> tuple[str, int]:
    """What a running head keeps from page to page: its text without the page number, and its height."""
    text = re.sub(r"^(\d{1,4}|[ivxlcdm]+)\s+|\s+(\d{1,4}(\s*(/|of)\s*\d{1,4})?|[ivxlcdm]+)$", "", line.text.strip())
    return " ".join(text.lower().split()), round(line.y)
