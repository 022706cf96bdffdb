"""Questions for training the ranker and the decision, from the training corpus only (training/corpus, never an eval
corpus), each with where its answer stands.

Example: python -m training.probe_questions
  -> training/data/probe_questions.jsonl: {"id": "pq0001", "question": "What does add_header do?", "kind": "term",
       "source": "privoxy/...html", "span": [1204, 1391], "answers": [], "package": "privoxy", "split": "train"}
     and training/data/PROBE_QUESTIONS.md (counts per kind and split)
Kinds: drafted (the drafted items of training/data/drafted*.jsonl: a short answer and its quote), term (a template
question about a definition-list term, answered by its definition), faq (a heading that is a question, answered by the
passage under it): all answerable, with the span of text that answers them; detail_absent (a question for a detail of
a term or name that its passage gives nowhere, training.details): unanswerable. Packages chosen by
training.questions.heldout_packages are split "heldout": never fitted on, the test on unseen documents.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path

from training.details import DETAILS, subjects
from training.questions import (
    HERE,
    SEED,
    TERM_QUESTIONS,
    defined_terms,
    drafted_lines,
    faq_headings,
    faq_question,
    heldout_packages,
    package_of,
    passages_of,
)

OUT = HERE / "data" / "probe_questions.jsonl"
TERMS_PER_DOCUMENT = 10
FAQS_PER_DOCUMENT = 4
ABSENT_PER_DOCUMENT = 2


def read(path: Path = OUT) -> list[dict]:
    """The questions main() wrote (committed): what the ranker, the decision and their targets are built from."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def drafted_questions(items: list[dict]) -> list[dict]:
    return [{"question": item["question"], "kind": "drafted", "source": item["sources"][0],
             "span": [item["quote_start"], item["quote_end"]], "answers": item["answers"],
             "key_terms": item.get("key_terms") or []} for item in items if item["answers"]]


def answered(kind: str, question: str, source: str, passage) -> dict:
    return {"question": question, "kind": kind, "source": source, "span": [passage.start, passage.end], "answers": [],
            "key_terms": []}


def document_questions(pipeline, record, rng: random.Random) -> list[dict]:
    """A document's term and FAQ questions (answerable: the span is the passage that answers) and questions for a
    detail its passages give nowhere (unanswerable)."""
    found = []
    terms = defined_terms(pipeline, record)
    for name, own in rng.sample(terms, min(TERMS_PER_DOCUMENT, len(terms))):
        found.append(answered("term", rng.choice(TERM_QUESTIONS).format(name=name), record.source, own))
    headings = sorted(faq_headings(pipeline, record).items())
    for heading, own in rng.sample(headings, min(FAQS_PER_DOCUMENT, len(headings))):
        found.append(answered("faq", faq_question(heading), record.source, own))
    text = pipeline.document(record.file_hash)[0]
    named = [(p, names) for p in passages_of(pipeline, record.source, record.file_hash) if (names := subjects(p.text))]
    for _, names in rng.sample(named, min(ABSENT_PER_DOCUMENT, len(named))):
        name = rng.choice(names)
        absent = [d for d in DETAILS if not d.given(text, name)]  # given nowhere near the name in the whole document
        if absent:
            question = rng.choice(rng.choice(absent).questions).format(x=name)
            found.append({"question": question, "kind": "detail_absent", "source": record.source, "span": None,
                          "answers": [], "key_terms": []})
    return found


def build(pipeline, drafted: list[dict]) -> list[dict]:
    rng = random.Random(SEED)
    records = sorted(pipeline.store.manifest().values(), key=lambda r: r.source)
    heldout = heldout_packages([package_of(r.source) for r in records])
    questions = drafted_questions(drafted)
    for record in records:
        questions += document_questions(pipeline, record, rng)
    seen, unique = set(), []
    for question in questions:
        if question["question"].lower() not in seen:
            seen.add(question["question"].lower())
            unique.append(question)
    rng.shuffle(unique)  # a run stopped early still holds every kind
    for n, question in enumerate(unique, 1):
        package = package_of(question["source"])
        question.update(id=f"pq{n:04d}", package=package, split="heldout" if package in heldout else "train")
    return unique


def statistics(questions: list[dict]) -> str:
    counts = Counter((q["split"], q["kind"]) for q in questions)
    lines = ["| split | kind | questions |", "|---|---|---|"]
    return "\n".join(lines + [f"| {split} | {kind} | {n} |" for (split, kind), n in sorted(counts.items())]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.probe_questions", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    from training.corpus import training_pipeline

    pipeline = training_pipeline()
    drafted = [json.loads(line) for path in sorted((HERE / "data").glob("drafted*.jsonl")) for line in drafted_lines(path)]
    questions = build(pipeline, drafted)
    args.out.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
    (args.out.parent / "PROBE_QUESTIONS.md").write_text(
        f"# Probe training questions ({len(questions)})\n\n`python -m training.probe_questions`, from the training "
        f"corpus and {len(drafted)} drafted items\n\n{statistics(questions)}", encoding="utf-8")
    print(f"{len(questions)} questions -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
