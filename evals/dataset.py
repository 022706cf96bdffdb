"""Load an eval set (JSON lines) and locate its gold quotes in the documents.

Example: items = load_items(Path("evals/qa.jsonl")); items[0].question -> "Which US Ambassador ..."
         gold_spans(items[0], Path("seeds")) -> [("000_7e71d6686ee625e3.txt", 281, 385)]
         items[27].key_terms -> [["balloon", "airship"], ["airspace", "spotted", "veered", "off course"]]
         items[27].split -> "heldout" (kept back from tuning; the others are "dev")
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

TYPES = ("factoid", "multi_doc", "why", "how", "list", "date", "noise", "paraphrase", "unanswerable", "followup",
         "topic_switch")
SPLITS = ("dev", "heldout")  # heldout items are kept back from tuning: look at their answers only to report


@dataclass(frozen=True)
class Item:
    id: str
    question: str
    answers: list[str]
    sources: list[str]
    quotes: list[str]
    type: str
    history: list[dict] = field(default_factory=list)
    key_terms: list[list[str]] = field(default_factory=list)
    split: str = "dev"

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
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a valid eval item ({exc})") from None
    return items


def gold_spans(item: Item, seeds_dir: Path) -> list[tuple[str, int, int]]:
    """(source, start, end) of each gold quote, found in the first named source that contains it."""
    spans = []
    for quote in item.quotes:
        for source in item.sources:
            text = (Path(seeds_dir) / source).read_text(encoding="utf-8")
            at = text.find(quote)
            if at >= 0:
                spans.append((source, at, at + len(quote)))
                break
    return spans


def retrieval_query(item: Item) -> str:
    """The question as retrieval sees it without an LLM: a follow-up is joined to the last user turn."""
    earlier = [turn["content"] for turn in item.history if turn.get("role") == "user"]
    return f"{earlier[-1]} {item.question}" if earlier else item.question
