"""Where the training questions come from: the training corpus's documents, packages and their split, passages,
definition-list terms and FAQ headings, and the drafted items (training/data/drafted*.jsonl).

Example: package_of("git-doc/git-stash.html") -> "git-doc"
         defined_terms(pipeline, record) -> [("add_header", DraftPassage(...)), ...]
         faq_headings(pipeline, record) -> {"How can I use fetchmail with Microsoft Exchange?": DraftPassage(...)}
"""

from __future__ import annotations

import json
import random
from functools import cache
from pathlib import Path

from rag.draft.passages import DraftPassage, document_passages

HERE = Path(__file__).resolve().parent
SEED = 20261203
HELDOUT_SHARE = 0.25


def package_of(source: str) -> str:
    return source.split("/", 1)[0]


def heldout_packages(packages: list[str]) -> set[str]:
    rng = random.Random(SEED)
    ordered = sorted(set(packages))
    return set(rng.sample(ordered, max(1, round(len(ordered) * HELDOUT_SHARE))))


@cache
def passages_of(pipeline, source: str, file_hash: str) -> tuple[DraftPassage, ...]:
    """A document's passages (rag.draft.passages), made once: the claims, terms, headings and every drafted item
    of the document read them."""
    known = pipeline.document(file_hash)
    return tuple(document_passages(source, file_hash, *known)) if known else ()


TERM_QUESTIONS = ("What does {name} do?", "What is {name} used for?", "What does the {name} setting mean?")


def term_name(text: str) -> str:
    """The name a definition list's term gives: "add_header = <text>" -> "add_header", "--root" -> "--root" """
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first.split(" = ")[0].split("=")[0].strip(" :").split(" (")[0][:40].strip()


def defined_terms(pipeline, record) -> list[tuple[str, DraftPassage]]:
    """A document's definition-list terms with the first passage of each one's definition: ("add_header", passage)."""
    known = pipeline.document(record.file_hash)
    if known is None:
        return []
    text, shape = known
    passages = passages_of(pipeline, record.source, record.file_hash)
    block_of = {u.start: u.block for u in shape.units}
    first_passage: dict[int, DraftPassage] = {}
    for passage in passages:
        first_passage.setdefault(block_of.get(passage.start, -1), passage)
    spans: dict[int, list[int]] = {}
    for unit in shape.units:
        spans.setdefault(unit.block, [unit.start, unit.end])[1] = unit.end
    defined = []
    for block, kind in enumerate(shape.kinds):
        if kind != "term" or block not in spans or block + 1 not in first_passage:
            continue
        name = term_name(text[spans[block][0]:spans[block][1]])
        own = first_passage[block + 1]
        if len(name) >= 2:
            defined.append((name, own))
    return defined


def faq_headings(pipeline, record) -> dict[str, DraftPassage]:
    """A document's headings that are questions ("How can I use fetchmail with Microsoft Exchange?"), each with the
    first passage under it."""
    known = pipeline.document(record.file_hash)
    if known is None:
        return {}
    text, shape = known
    block_of = {u.start: u.block for u in shape.units}
    answered: dict[str, DraftPassage] = {}
    for passage in passages_of(pipeline, record.source, record.file_hash):
        path = shape.sections[block_of.get(passage.start, 0)]
        heading = path.split(" > ")[-1].strip()
        if heading.endswith("?") and len(heading.split()) >= 4:
            answered.setdefault(heading, passage)
    return answered


def faq_question(heading: str) -> str:
    """The heading as a question, its numbering dropped: "Q3. How do I ...?" -> "How do I ...?" """
    return heading.lstrip("0123456789.SQ ").strip()


def drafted_lines(path: Path) -> list[str]:
    """A drafted set's items: the finished file, or the kept items of its partial log (a run stopped early)."""
    if path.is_file():
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    partial = path.with_name(path.name + ".partial")
    records = [json.loads(line) for line in partial.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [json.dumps(r["item"]) for r in records if r.get("item")]
