"""Read HTML the way a browser lays it out: block elements are blocks, inline elements stay inside their sentence.

Example: read_html("<h2>Ports</h2><p>The default port is <code>8080</code>,\n unless <em>set</em>.</p>")[0]
         -> [("heading", "Ports", 2), ("paragraph", "The default port is 8080, unless set.", 0)]
Whitespace inside a block collapses to one space and <br> is a line break; <pre> is kept verbatim as one code block;
each table row is one block with its cells joined by " | ". Scripts, styles, form controls, hidden elements and the
page's own navigation (nav, aside, the page-level header and footer, ARIA navigation/banner/contentinfo/complementary,
elements whose class or id names a nav bar, menu, sidebar, breadcrumbs or table of contents, blocks of mostly
"Next / Previous / Up" links marked rel= or accesskey=) are left out; a page that is nothing but navigation is read
whole. When the page marks its main content (one <main> or one <article>) only that is read, unless it holds under a
quarter of the page's text. The <title> leads the text as a heading unless the first heading already says it.
"""

from __future__ import annotations

import re

from rag.read.dates import find_date, parse_date
from rag.read.formats.blocks import DEFINITION

_SKIP = {"script", "style", "noscript", "template", "head", "title", "svg", "math", "canvas", "iframe", "object", "embed",
         "video", "audio", "button", "select", "input", "textarea", "map", "dialog"}
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCKS = {"p", "div", "section", "article", "main", "body", "html", "header", "footer", "nav", "aside", "ul", "ol", "dl",
           "menu", "li", "dt", "dd", "blockquote", "figure", "figcaption", "caption", "address", "details", "summary", "fieldset",
           "legend", "center", "hgroup", "form", "hr", "thead", "tbody", "tfoot", "tr", "td", "th", "noframes", "search",
           *_HEADINGS}
_VERBATIM = {"pre", "listing", "xmp", "plaintext"}
_SECTIONS = {"article", "section", "main"}
_BOILERPLATE_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search"}
# Class or id words that page generators give their navigation bars, menus, sidebars, breadcrumbs and tables of
# contents (a page's own table of contents repeats its headings).
_BOILERPLATE_NAMES = re.compile(r"(^|[\s_-])(nav\w*|\w*menu|\w*sidebar|breadcrumbs?|skip-?links?|toc|site-?header|site-?footer)"
                                r"($|[\s_-])", re.IGNORECASE)
_PERMALINKS = {"¶", "#", "§", "🔗", "⚓"}
# Links that step to the next, previous or parent page (rel= from Texinfo and others, accesskey= from DocBook)
_PAGER_LINKS = "//a[@rel='next' or @rel='prev' or @rel='previous' or @rel='up' or @accesskey='n' or @accesskey='p']"
_PAGER_HOLDERS = {"p", "div", "td", "th", "tr", "table", "ul", "ol", "li", "span"}
_DATE_META = ["date", "dcterms.date", "dc.date", "article:published_time", "dcterms.created", "dc.date.created",
              "dcterms.issued", "dc.date.issued", "datepublished", "pubdate", "publish-date", "article:modified_time",
              "dcterms.modified", "dc.date.modified", "datemodified", "last-modified", "og:updated_time"]
_SPACE = re.compile(r"[ \t\n\r\f\v]+")
_BR = "\x00"  # stands for <br> while spaces collapse

Piece = tuple[str, str, int]  # kind, text, level


def _collapse(text: str) -> str:
    text = _SPACE.sub(" ", text)
    return "\n".join(line.strip() for line in text.split(_BR)).strip()


def _skipped(el, in_content: bool, strict: bool) -> bool:
    tag = el.tag
    if tag in _SKIP or "hidden" in el.attrib or el.get("aria-hidden") == "true":
        return True
    style = el.get("style", "").replace(" ", "").lower()
    if "display:none" in style or "visibility:hidden" in style:
        return True
    if not strict:
        return False
    if el.get("role", "").lower() in _BOILERPLATE_ROLES:
        return True
    # A header or footer inside an article or section heads that part (its title, its date), not the page.
    if tag in ("nav", "aside") or (tag in ("header", "footer") and not in_content):
        return True
    names = f"{el.get('class', '')} {el.get('id', '')}".strip()
    if names and _BOILERPLATE_NAMES.search(names):
        return True
    return tag == "a" and el.get("href", "").startswith("#") and el.text_content().strip() in _PERMALINKS


class _Walker:
    """Collects the (kind, text, level) pieces of an element tree in document order."""

    def __init__(self, strict: bool = True, pagers: frozenset = frozenset()) -> None:
        self.pieces: list[Piece] = []
        self.buffer: list[str] = []
        self.strict = strict  # False: keep the page's navigation too
        self.pagers = pagers if strict else frozenset()

    def flush(self, kind: str, level: int = 0) -> None:
        if self.buffer:
            self.pieces.append((kind, _collapse("".join(self.buffer)), level))
            self.buffer = []

    def walk(self, el, kind: str = "paragraph", level: int = 0, in_content: bool = False) -> None:
        if el.text:
            self.buffer.append(el.text)
        for child in el:
            if isinstance(child.tag, str) and child not in self.pagers and not _skipped(child, in_content, self.strict):
                self.element(child, kind, level, in_content)  # (comments have no str tag)
            if child.tail:
                self.buffer.append(child.tail)

    def element(self, el, kind: str, level: int, in_content: bool) -> None:
        tag = el.tag
        if tag == "br":
            self.buffer.append(_BR)
        elif tag in _VERBATIM:
            self.flush(kind, level)
            self.pieces.append(("code", _verbatim(el), DEFINITION if level == DEFINITION else 0))
        elif tag == "table":
            self.flush(kind, level)
            self.table(el, in_content, DEFINITION if level == DEFINITION else 0)
        elif tag in _BLOCKS:
            self.flush(kind, level)
            # the paragraphs inside a list item are the item's text; a definition's blocks say they belong to its term
            inner = ("heading" if tag in _HEADINGS else "term" if tag == "dt" else
                     "item" if tag == "li" or kind == "item" else "paragraph")
            defined = tag in ("dt", "dd") or (level == DEFINITION and tag != "dl")
            inner_level = _HEADINGS.get(tag, DEFINITION if defined else 0)
            self.walk(el, inner, inner_level, in_content or tag in _SECTIONS)
            self.flush(inner, inner_level)
        else:
            self.walk(el, kind, level, in_content)

    def table(self, table, in_content: bool, level: int = 0) -> None:
        rows = [tr for tr in table.iter("tr") if next(tr.iterancestors("table")) is table]
        cells = [[c for c in tr if c.tag in ("td", "th")] for tr in rows]
        # A table that only places content on the page (nested tables, code, headings, or never two filled cells in a
        # row, as in a note box) is read as its cells' blocks.
        filled = [sum(bool(c.text_content().strip()) for c in row) for row in cells]
        nested = next(table.iterdescendants("table", *_VERBATIM, *_HEADINGS), None) is not None
        layout = nested or all(n <= 1 for n in filled)
        for caption in table.iterchildren("caption"):
            self.walk(caption, "paragraph", level, in_content)
            self.flush("paragraph", level)
        for row in cells:
            texts = []
            for cell in row:
                inner = self if layout else _Walker(self.strict, self.pagers)
                if not _skipped(cell, in_content, self.strict):
                    inner.walk(cell, "paragraph", level, in_content)
                    inner.flush("paragraph", level)
                if not layout:
                    texts.append(" ".join(text for _, text, _ in inner.pieces if text).replace("\n", " "))
            while texts and not texts[-1]:
                texts.pop()
            if texts:
                self.pieces.append(("row", re.sub(" {2,}", " ", " | ".join(texts)), level))


def _verbatim(pre) -> str:
    for br in pre.iter("br"):
        br.tail = "\n" + (br.tail or "")
    text = pre.text_content().replace("\r\n", "\n")
    return text[1:] if text.startswith("\n") else text  # a line break right after <pre> is not content


def _pagers(doc) -> frozenset:
    """The blocks that hold a page's "Next / Previous / Up" links: the nearest block around such a link whose text is
    mostly link text."""
    found = set()
    for link in doc.xpath(_PAGER_LINKS):
        for holder in link.iterancestors():
            if holder.tag in _PAGER_HOLDERS:
                text = holder.text_content().strip()
                linked = sum(len(a.text_content().strip()) for a in holder.iter("a"))
                if text and linked >= 0.5 * len(text):
                    found.add(holder)
                break
    return frozenset(found)


def _content_root(doc):
    """The element holding the page's content: its one <main> or <article> if it has one, else the body."""
    body = doc.find("body")
    body = doc if body is None else body
    marked = list(doc.iter("main")) or doc.xpath("//*[@role='main']")
    if len(marked) != 1:
        marked = list(doc.iter("article"))
    if len(marked) == 1 and len(marked[0].text_content()) >= 0.25 * len(body.text_content()):
        return marked[0]
    return body


def _meta_date(doc) -> str:
    found: dict[str, str] = {}
    for meta in doc.iter("meta"):
        key = (meta.get("name") or meta.get("property") or meta.get("itemprop") or meta.get("http-equiv") or "").lower()
        if key in _DATE_META and key not in found:
            found[key] = parse_date(meta.get("content", ""))
    for key in _DATE_META:
        if found.get(key):
            return found[key]
    for time in doc.iter("time"):
        iso = parse_date(time.get("datetime", "") or time.text_content())
        if iso:
            return iso
    return ""


def read_html(markup: str) -> tuple[list[Piece], str, str]:
    """The (kind, text, level) pieces of a page, its title and its date ("" when none)."""
    from lxml import etree, html

    parser = html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)
    try:  # bytes: lxml refuses a str that carries an XML encoding declaration
        doc = html.document_fromstring(markup.encode("utf-8", "surrogatepass"), parser=parser)
    except etree.ParserError:  # a document with no elements at all
        return [], "", ""
    root, pagers = _content_root(doc), _pagers(doc)
    pieces: list[Piece] = []
    for strict in (True, False):  # a page that is all navigation (an index) is read whole rather than not at all
        walker = _Walker(strict, pagers)
        walker.walk(root, in_content=root.tag in ("main", "article"))
        walker.flush("paragraph")
        pieces = [p for p in walker.pieces if p[1]]
        if any(c.isalnum() for _, text, _ in pieces for c in text):
            break
    title_el = doc.find("head/title")
    title = _collapse(title_el.text_content()) if title_el is not None else ""
    first_heading = next((text for kind, text, _ in pieces[:5] if kind == "heading"), "")
    if title and " ".join(title.split()) not in " ".join(first_heading.split()):
        # The browser shows the <title>, and it often holds what the page never repeats (a product, its version).
        pieces.insert(0, ("heading", title, 1))
    title = title or next((text for kind, text, level in pieces if kind == "heading" and level == 1), "")
    # "Last updated ..." often closes a page instead
    date = (_meta_date(doc) or find_date("\n".join(text for _, text, _ in pieces[:30]))
            or find_date("\n".join(text for _, text, _ in pieces[-5:]), datelines_only=True))
    return pieces, title, date
