"""Find the blocks of a plain-text or Markdown file in the file itself (the text is never changed).

Example: find_blocks("# Ports\n\nThe default port\nis 8080.\n\n- one\n- two\n", markdown=True)
         -> (Block(0, 7, "heading", 1), Block(9, 34, "paragraph"), Block(36, 41, "item"), Block(42, 47, "item"))
Both kinds: blank lines part blocks; "#" and underlined (=== / ---) headings; "- ", "* ", "+ ", "1. " items; fenced
code (``` or ~~~) as one block; "| a | b |" lines as rows. Markdown joins the lines of a paragraph; plain text
guesses: a group of soft-wrapped lines (most long, most ending mid-sentence) is one paragraph, otherwise each line is
its own, and a short line without sentence punctuation that stands alone or leads a long line is a heading.
"""

from __future__ import annotations

import re

from rag.read.dates import find_date
from rag.read.formats.blocks import Block

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r" {0,3}(#{1,6})(\s|$)")
_UNDERLINE = re.compile(r" {0,3}(=+|-+)\s*")
_BREAK = re.compile(r" {0,3}([-*_])(\s*\1){2,}\s*")
_ITEM = re.compile(r"(\s*)([-*+•]|\d{1,3}[.)])\s+\S")
_ROW = re.compile(r"\s*\|")
_ROW_RULE = re.compile(r"\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*")
_ENDS_SENTENCE = re.compile(r"[.!?:;,][\"'”’)\]]*$")
_SENTENCE_BREAK = re.compile(r"[a-z\d][.!?][\"'”’)\]]*\s+[\"'“‘(]?[A-Z]")

Line = tuple[int, int, str]  # start, end (no line break), content


def _lines(text: str) -> list[Line]:
    lines, at = [], 0
    for raw in text.splitlines(keepends=True):
        content = raw.splitlines()[0] if raw.strip("\r\n") else ""
        lines.append((at, at + len(content), content))
        at += len(raw)
    return lines


def _span(text: str, start: int, end: int, kind: str, level: int = 0) -> Block:
    """The block over text[start:end] with its surrounding space left out."""
    chunk = text[start:end]
    lead = len(chunk) - len(chunk.lstrip())
    return Block(start + lead, start + len(chunk.rstrip()), kind, level)


def heading_like(line: str) -> bool:
    """A short line that reads as a title: no sentence punctuation inside or at its end, starts with a capital or digit,
    not a byline or dateline."""
    words = line.split()
    if not words or len(words) > 20 or words[0].lower() == "by" or not any(c.isalpha() for c in line):
        return False
    if not (words[0][0].isupper() or words[0][0].isdigit() or words[0][0] in "\"'“‘"):
        return False
    title_cased = sum(w[0].isupper() for w in words if w[0].isalpha()) >= 0.6 * len(words)
    short = len(words) <= 12 or title_cased
    return short and not _ENDS_SENTENCE.search(line.strip()) and not _SENTENCE_BREAK.search(line) and not find_date(line)


def soft_wrapped(contents: list[str]) -> bool:
    """True for lines broken to a width (one paragraph), False for lines that each hold a paragraph of their own."""
    lengths = [len(c.strip()) for c in contents]
    width, inner = max(lengths), contents[:-1]
    if len(contents) < 2 or width < 40:
        return False
    long_lines = sum(n >= 0.6 * width for n in lengths[:-1])
    open_ends = sum(not _ENDS_SENTENCE.search(c.strip()) for c in inner)
    return long_lines >= 0.7 * len(inner) and open_ends >= 0.5 * len(inner)


def _starts_block(content: str) -> bool:
    return bool(_ATX.match(content) or _BREAK.fullmatch(content) or _ITEM.match(content) or _ROW.match(content))


def _underlined(group: list[Line], j: int) -> bool:
    """Line j is a heading underlined by the next line (=== or ---)."""
    return j + 1 < len(group) and bool(_UNDERLINE.fullmatch(group[j + 1][2])) and not _starts_block(group[j][2])


def _group_blocks(text: str, group: list[Line], markdown: bool) -> list[Block]:
    """Blocks of a run of non-blank lines (no fences inside)."""
    blocks: list[Block] = []
    j = 0
    while j < len(group):
        start, end, content = group[j]
        if _underlined(group, j):
            level = 1 if group[j + 1][2].strip()[0] == "=" else 2
            blocks.append(_span(text, start, group[j + 1][1], "heading", level))
            j += 2
        elif _ATX.match(content):
            blocks.append(_span(text, start, end, "heading", len(_ATX.match(content)[1])))
            j += 1
        elif _BREAK.fullmatch(content):
            blocks.append(_span(text, start, end, "paragraph"))
            j += 1
        elif _ROW.match(content):
            if _ROW_RULE.fullmatch(content) and blocks and blocks[-1].kind == "row":
                blocks[-1] = _span(text, blocks[-1].start, end, "row")  # the rule under a header row belongs to it
            else:
                blocks.append(_span(text, start, end, "row"))
            j += 1
        elif _ITEM.match(content):
            indent = len(_ITEM.match(content)[1])
            k = j + 1
            while k < len(group) and not _starts_block(group[k][2]) and not _underlined(group, k):
                nxt = group[k][2]
                lazy = markdown or (not _ENDS_SENTENCE.search(group[k - 1][2].strip()) and nxt.lstrip()[:1].islower())
                if len(nxt) - len(nxt.lstrip()) <= indent and not lazy:
                    break
                k += 1
            blocks.append(_span(text, start, group[k - 1][1], "item"))
            j = k
        else:
            k = j + 1
            while k < len(group) and not _starts_block(group[k][2]) and not _underlined(group, k):
                k += 1
            blocks.extend(_paragraphs(text, group[j:k], markdown, alone=len(group) == 1))
            j = k
    return blocks


def _paragraphs(text: str, run: list[Line], markdown: bool, alone: bool) -> list[Block]:
    contents = [c for _, _, c in run]
    if markdown or soft_wrapped(contents):
        return [_span(text, run[0][0], run[-1][1], "paragraph")]
    blocks = []
    for i, (start, end, content) in enumerate(run):
        leads = i + 1 < len(run) and len(run[i + 1][2].split()) >= 2 * max(len(content.split()), 8)
        kind = "heading" if (alone or leads) and heading_like(content) else "paragraph"
        blocks.append(_span(text, start, end, kind, 2 if kind == "heading" else 0))
    return blocks


def find_blocks(text: str, markdown: bool) -> tuple[Block, ...]:
    """The blocks of `text` in order; they cover every non-space character of it."""
    lines = _lines(text)
    blocks: list[Block] = []
    group: list[Line] = []
    i = 0
    while i <= len(lines):
        line = lines[i] if i < len(lines) else None
        fence = _FENCE.match(line[2]) if line else None
        if line is None or not line[2].strip() or fence:
            if group:
                blocks.extend(_group_blocks(text, group, markdown))
                group = []
            if fence:
                marker = fence[1]
                k = i + 1
                while k < len(lines) and not re.match(r" {0,3}" + re.escape(marker[0]) + "{" + str(len(marker)) + ",}\\s*$",
                                                      lines[k][2]):
                    k += 1
                last = min(k, len(lines) - 1)
                blocks.append(_span(text, line[0], lines[last][1], "code"))
                i = last + 1
                continue
        else:
            group.append(line)
        i += 1
    return tuple(_leveled(text, blocks, markdown))


def _leveled(text: str, blocks: list[Block], markdown: bool) -> list[Block]:
    """Plain text: a heading guessed before the body starts (no long paragraph above it) is the title, level 1, and so
    is a lone first line without end punctuation (a page title, however long)."""
    if markdown or not blocks:
        return blocks
    first = blocks[0]
    line = text[first.start:first.end]
    if first.kind == "paragraph" and "\n" not in line and len(line.split()) <= 40 and not _ENDS_SENTENCE.search(line) \
            and (len(blocks) == 1 or text[first.end:blocks[1].start].count("\n") >= 2) and line[:1].isupper() \
            and not find_date(line):
        blocks[0] = Block(first.start, first.end, "heading", 1)
    for i, block in enumerate(blocks):
        if block.kind == "heading":
            if block.level == 2 and "\n" not in text[block.start:block.end] and not _ATX.match(text[block.start:block.end]):
                blocks[i] = Block(block.start, block.end, "heading", 1)
            break
        if len(text[block.start:block.end].split()) > 40:
            break
    return blocks
