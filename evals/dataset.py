"""Load an eval set (JSON lines) and locate its gold quotes in the documents.

Example: items = load_items(Path("evals/qa.jsonl")); items[0].question -> "Which US Ambassador ..."
         gold_spans(items[0], Path("seeds")) -> [("000_7e71d6686ee625e3.txt", 281, 385)]
         items[27].key_terms -> [["balloon", "airship"], ["airspace", "spotted", "veered", "off course"]]
         items[27].split -> "heldout" (kept back from tuning; the others are "dev")
A quote is found in the document's text as read (rag.read.readers: the extracted text for html/pdf/docx) even where
that text breaks it differently from the page: "are mar-\\nshaled" or "named\\nconfig\\n," match the quotes
"are marshaled" and "named config,".
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rag.read.readers import read_document

TYPES = ("factoid", "multi_doc", "why", "how", "list", "date", "noise", "paraphrase", "unanswerable", "followup",
         "topic_switch", "inline_code", "pdf_wrap", "section")
SPLITS = ("dev", "heldout")  # heldout items are kept back from tuning: look at their answers only to report
# Readers differ in where they put line breaks, in joining a word hyphenated across lines and in ligatures
# ("ﬁ"); quotes are written as the page reads. Comparing with these characters dropped, after NFKC, makes a
# quote match any of those renderings, and sentence-length quotes stay unambiguous.
_DROPPED = frozenset("-\u00ad\u2010\u2011")
_SAME = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


@dataclass(frozen=True)
class Item:
    id: str
    question: str
    answers: list[str]
    sources: list[str]
    quotes: list[str]
    type: str
    history: list[dict] = field(default_factory=list)
    key_terms: list[list[str]] = field(default_factory=list)  # every group must be matched by one of its strings
    split: str = "dev"  # "heldout" items are not looked at while tuning

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_items(path: Path) -> list[Item]:
    """Parse every line; a bad line raises ValueError naming the line and the problem."""
    items = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            items.append(Item(id=str(raw["id"]), question=raw["question"], answers=list(raw.get("answers", [])),
                              sources=list(raw.get("sources", [])), quotes=list(raw.get("quotes", [])),
                              type=raw.get("type", "factoid"), history=list(raw.get("history", [])),
                              key_terms=[list(group) for group in raw.get("key_terms", [])],
                              split=raw.get("split", "dev")))
            if items[-1].split not in SPLITS:
                raise ValueError(f"split {items[-1].split!r} is not one of {', '.join(SPLITS)}")
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a valid eval item ({exc})") from None
    return items


def folded(text: str) -> tuple[str, list[int]]:
    """The text as quotes are compared (NFKC, no whitespace or hyphens, plain quote marks) and, for each of its
    characters, the offset in `text` it came from.

    Example: folded("a ﬁ-\\nle") -> ("afile", [0, 2, 2, 5, 6])"""
    chars: list[str] = []
    where: list[int] = []
    for at, char in enumerate(text):
        if char.isspace() or char in _DROPPED:
            continue
        for piece in unicodedata.normalize("NFKC", char).translate(_SAME):
            if not piece.isspace() and piece not in _DROPPED:
                chars.append(piece)
                where.append(at)
    return "".join(chars), where


def locate(quote: str, text: str, folded_text: tuple[str, list[int]] | None = None) -> tuple[int, int] | None:
    """(start, end) of quote in text: verbatim if it is there, else by folded comparison; None if absent."""
    at = text.find(quote)
    if at >= 0:
        return at, at + len(quote)
    needle, _ = folded(quote)
    haystack, where = folded_text or folded(text)
    at = haystack.find(needle) if needle else -1
    if at < 0:
        return None
    return where[at], where[at + len(needle) - 1] + 1


@lru_cache(maxsize=64)
def _document(path: str, mtime_ns: int, size: int) -> tuple[str, tuple[str, list[int]]]:
    text = read_document(Path(path)).text
    return text, folded(text)


def document_text(path: Path) -> tuple[str, tuple[str, list[int]]]:
    """The text as read and its folded form, read once per file version (PDFs are slow to extract)."""
    stat = Path(path).stat()
    return _document(str(path), stat.st_mtime_ns, stat.st_size)


def gold_spans(item: Item, seeds_dir: Path) -> list[tuple[str, int, int]]:
    """(source, start, end) of each gold quote, found in the first named source that contains it; the offsets
    index the source's text as read (rag.read.readers.read_document(path).text)."""
    spans = []
    for quote in item.quotes:
        for source in item.sources:
            text, folded_text = document_text(Path(seeds_dir) / source)
            found = locate(quote, text, folded_text)
            if found:
                spans.append((source, *found))
                break
    return spans


def retrieval_query(item: Item) -> str:
    """The question as retrieval sees it without an LLM: one that depends on the conversation (rag.generate.followup) is
    joined to the last user turn, as the engine searches when a rewrite fails; one that stands alone is not."""
    from rag.generate.followup import depends_on_history, recent_history

    earlier = [turn["content"] for turn in item.history if turn.get("role") == "user"]
    if not earlier or depends_on_history(item.question, recent_history(item.history)) is None:
        return item.question
    return f"{earlier[-1]} {item.question}"
