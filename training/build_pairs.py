"""Training pairs for the evidence judge, from questions drafted on the training corpus (training/corpus, never the eval
corpora) and from the corpus's own sentences.

Example: python -m training.build_pairs   (after `python -m training.draft`)
  -> training/data/pairs.jsonl: {"a": "question: Which port does tinc listen on?", "b": "tinc > Port\\nPort = ...",
                                  "label": 1, "task": "question", "kind": "source", "package": "tinc", "split": "train"}
     and training/data/STATS.md (counts per task, kind, label and split)
Question pairs: the drafted question with its passage (1); the passages retrieval ranks near it that neither
overlap its quote nor hold its answer (0: hard negatives, the false-negative guard); the question with a name or
number swapped for one its passage lacks, against that passage (0); a drafted unanswerable question against its
nearest passages (0); questions for a detail of a name the passage holds, which it gives (1) or gives nowhere (0:
training.details, also for definition-list terms and names of any passage). Claim pairs: a sentence of a passage,
or the model's answer from it, or "question: answer", against the passage (1); the same with a number, name,
negation or comparative changed (0); a sentence against a neighbouring passage of the same document that does not
hold its content (0).
Packages in HELDOUT_SHARE are split "heldout": never trained on, the judge's own test of unseen documents.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from functools import cache
from pathlib import Path

from rag.answer.evidence_judge import claim_input, question_input
from rag.draft.checks import contains
from rag.draft.passages import DraftPassage, document_passages
from rag.read.chunking import sentence_spans
from rag.text import content_words, passage_input
from training.details import detail_pairs, subjects
from training.perturb import names_in, perturbations, swap_name, swap_number

HERE = Path(__file__).resolve().parent
SEED = 20261203
HELDOUT_SHARE = 0.25
NEGATIVES_PER_QUESTION = 4
CLAIM_PASSAGES_PER_DOCUMENT = 8
ANSWER_CLAIM_COPIES = 3  # the model's own answers are the paraphrases the claim check meets: weighed up


def package_of(source: str) -> str:
    return source.split("/", 1)[0]


def heldout_packages(packages: list[str]) -> set[str]:
    rng = random.Random(SEED)
    ordered = sorted(set(packages))
    return set(rng.sample(ordered, max(1, round(len(ordered) * HELDOUT_SHARE))))


def overlaps(evidence, source: str, start: int, end: int) -> bool:
    return evidence.source == source and evidence.start < end and start < evidence.end


def question_pairs(pipeline, item: dict, header_of, rng: random.Random) -> list[dict]:
    """The pairs one drafted item gives (see the module docstring)."""
    source = item["sources"][0]
    passage = item["passage"]
    header = header_of(source, passage["start"])
    own = passage_input(header, passage["text"])
    found = pipeline.evidence(item["question"], k=NEGATIVES_PER_QUESTION + 4)
    q = question_input(item["question"])
    if not item["answers"]:
        return [dict(a=q, b=own, label=0, kind="unanswerable")] + \
               [dict(a=q, b=passage_input(e.header(), e.text), label=0, kind="unanswerable") for e in found[:3]]
    answer, start, end = item["answers"][0], item["quote_start"], item["quote_end"]
    pairs = [dict(a=q, b=own, label=1, kind="source")]
    pairs += [dict(a=q, b=passage_input(e.header(), e.text), label=1, kind="retrieved")
              for e in found if overlaps(e, source, start, end) and contains(e.text, answer)][:1]
    negatives = [e for e in found if not overlaps(e, source, start, end) and not contains(e.text, answer)
                 and not contains(e.header(), answer)]
    pairs += [dict(a=q, b=passage_input(e.header(), e.text), label=0, kind="hard_negative")
              for e in negatives[:NEGATIVES_PER_QUESTION]]
    pool = names_in(pipeline.document(found[0].file_hash)[0][:20000]) if found else []
    asked = [n for n in names_in(item["question"]) if n.lower() in passage["text"].lower()]
    swapped = swap_name(item["question"], pool, rng) if asked else None
    swapped = swapped or (swap_number(item["question"], rng) if any(c.isdigit() for c in item["question"]) else None)
    if swapped and not content_words(swapped) <= content_words(passage["text"]):
        pairs.append(dict(a=question_input(swapped), b=own, label=0, kind="swapped_term"))
    if asked:
        pairs += detail_pairs(rng.choice(asked), header, passage["text"], rng)
    return pairs


def claim_pairs_of(sentence: str, own: str, pool: list[str], rng: random.Random, kind: str) -> list[dict]:
    pairs = [dict(a=claim_input(sentence), b=own, label=1, kind=kind)]
    for change, changed in perturbations(sentence, pool, rng)[:2]:
        pairs.append(dict(a=claim_input(changed), b=own, label=0, kind=f"{change}_swap"))
    return pairs


def item_claims(item: dict, header_of, pool: list[str], rng: random.Random) -> list[dict]:
    """The drafted answer as a claim ("question: answer"), and the model's own answer sentences that hold it."""
    if not item["answers"]:
        return []
    passage = item["passage"]
    own = passage_input(header_of(item["sources"][0], passage["start"]), passage["text"])
    pairs = claim_pairs_of(f"{item['question'].rstrip('?')}: {item['answers'][0]}", own, pool, rng, "qa_claim")
    generated = item.get("generated_answer", "")
    for start, end in sentence_spans(generated):
        sentence = generated[start:end]
        if contains(sentence, item["answers"][0]):
            pairs += claim_pairs_of(sentence, own, pool, rng, "model_answer") * ANSWER_CLAIM_COPIES
    return pairs


def restated(sentence: str, passage, rng: random.Random) -> str:
    """The sentence as an answer would put it, half of the time: its first clause, or attributed to its section
    ("In Ports, the daemon listens on 655.")."""
    choice = rng.random()
    first = sentence.split("; ")[0].split(", which ")[0].rstrip(".,;:") + "."
    if choice < 0.25 and len(first.split()) >= 5 and first != sentence:
        return first
    place = passage.header.split(" > ")[-1].split(", ")[0]
    if choice < 0.5 and place and len(place) < 50 and sentence[:1].isupper() and not sentence[1:2].isupper():
        return f"In {place}, {sentence[0].lower()}{sentence[1:]}"
    return sentence


@cache
def passages_of(pipeline, source: str, file_hash: str) -> tuple[DraftPassage, ...]:
    """A document's passages (rag.draft.passages), made once: the claims, terms, headings and every drafted item
    of the document read them."""
    known = pipeline.document(file_hash)
    return tuple(document_passages(source, file_hash, *known)) if known else ()


def corpus_claims(pipeline, record, rng: random.Random) -> list[dict]:
    """Sentences of a document's passages against their passage (1), changed (0), and against a neighbour (0)."""
    known = pipeline.document(record.file_hash)
    if known is None:
        return []
    text, shape = known
    passages = passages_of(pipeline, record.source, record.file_hash)
    pool = names_in(text[:50000])
    pairs = []
    for passage in rng.sample(passages, min(CLAIM_PASSAGES_PER_DOCUMENT, len(passages))):
        spans = sentence_spans(passage.text)
        if not spans:
            continue
        sentence = restated(passage.text[slice(*rng.choice(spans))], passage, rng)
        own = passage_input(passage.header, passage.text)
        pairs += claim_pairs_of(sentence, own, pool, rng, "sentence")
        other = rng.choice(passages)
        if other is not passage and len(content_words(sentence) & content_words(other.text)) < 0.5 * len(content_words(sentence)):
            pairs.append(dict(a=claim_input(sentence), b=passage_input(other.header, other.text), label=0,
                              kind="other_passage"))
    return pairs


TERMS_PER_DOCUMENT = 15
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


def term_pairs(pipeline, record, rng: random.Random) -> list[dict]:
    """Template questions about a definition list's terms ("What does add_header do?") against the term's own
    definition (1) and another term's definition in the same document (0): the option on the neighbouring line; and
    questions for a detail of the term its definition gives (1) or does not give (0; training.details)."""
    defined = defined_terms(pipeline, record)
    pairs = []
    for name, own in rng.sample(defined, min(TERMS_PER_DOCUMENT, len(defined))):
        question = question_input(rng.choice(TERM_QUESTIONS).format(name=name))
        pairs.append(dict(a=question, b=passage_input(own.header, own.text), label=1, kind="term"))
        others = [p for n, p in defined if n != name and name not in p.header and name not in p.text]
        if others:
            other = rng.choice(others)
            pairs.append(dict(a=question, b=passage_input(other.header, other.text), label=0, kind="term_neighbour"))
        pairs += detail_pairs(name, own.header, own.text, rng, defines=True)
    return pairs


DETAIL_PASSAGES_PER_DOCUMENT = 10


def name_detail_pairs(pipeline, record, rng: random.Random) -> list[dict]:
    """Detail questions (training.details) about a name-like word of a passage ("What is the maximum value of
    MaxStartups?"), for passages of any kind: prose, list items and table rows as well as definitions."""
    named = [(p, names) for p in passages_of(pipeline, record.source, record.file_hash) if (names := subjects(p.text))]
    pairs = []
    for passage, names in rng.sample(named, min(DETAIL_PASSAGES_PER_DOCUMENT, len(named))):
        pairs += detail_pairs(rng.choice(names), passage.header, passage.text, rng)
    return pairs


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


def heading_pairs(pipeline, record, rng: random.Random) -> list[dict]:
    """FAQ-style headings that are questions against the first passage under them (1) and the first passage under
    another such heading of the document (0): questions people wrote, with the answer they wrote below."""
    answered = faq_headings(pipeline, record)
    pairs = []
    for heading, own in answered.items():
        question = question_input(faq_question(heading))
        pairs.append(dict(a=question, b=passage_input(own.header, own.text), label=1, kind="faq"))
        others = [p for h, p in answered.items() if h != heading]
        if others:
            other = rng.choice(others)
            pairs.append(dict(a=question, b=passage_input(other.header, other.text), label=0, kind="faq_other"))
    return pairs


def build(pipeline, items: list[dict]) -> list[dict]:
    rng = random.Random(SEED)
    records = sorted(pipeline.store.manifest().values(), key=lambda r: r.source)
    heldout = heldout_packages([package_of(r.source) for r in records])
    hashes = {r.source: r.file_hash for r in records}

    def header_of(source: str, start: int) -> str:
        found = next((p for p in passages_of(pipeline, source, hashes[source]) if p.start == start), None)
        return found.header if found else pipeline.document(hashes[source])[1].title

    pairs = []
    for item in items:
        source = item["sources"][0]
        pool = names_in(pipeline.document(hashes[source])[0][:50000])
        for pair in question_pairs(pipeline, item, header_of, rng) + item_claims(item, header_of, pool, rng):
            pairs.append({**pair, "task": "question" if pair["a"].startswith("question:") else "claim",
                          "package": package_of(source)})
    for record in records:
        pairs += [{**pair, "task": "claim", "package": package_of(record.source)}
                  for pair in corpus_claims(pipeline, record, rng)]
        pairs += [{**pair, "task": "question", "package": package_of(record.source)}
                  for pair in term_pairs(pipeline, record, rng) + heading_pairs(pipeline, record, rng)
                  + name_detail_pairs(pipeline, record, rng)]
    for pair in pairs:
        pair["split"] = "heldout" if pair["package"] in heldout else "train"
    return pairs


def statistics(pairs: list[dict]) -> str:
    counts = Counter((p["split"], p["task"], p["kind"], p["label"]) for p in pairs)
    lines = ["| split | task | kind | label | pairs |", "|---|---|---|---|---|"]
    lines += [f"| {s} | {t} | {k} | {lab} | {n} |" for (s, t, k, lab), n in sorted(counts.items())]
    packages = Counter((p["split"], p["package"]) for p in pairs)
    lines += ["", "| split | package | pairs |", "|---|---|---|"]
    lines += [f"| {s} | {pkg} | {n} |" for (s, pkg), n in sorted(packages.items())]
    return "\n".join(lines) + "\n"


def drafted_lines(path: Path) -> list[str]:
    """A drafted set's items: the finished file, or the kept items of its partial log (a run stopped early)."""
    if path.is_file():
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    partial = path.with_name(path.name + ".partial")
    records = [json.loads(line) for line in partial.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [json.dumps(r["item"]) for r in records if r.get("item")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.build_pairs", description=__doc__.splitlines()[0])
    parser.add_argument("--drafted", type=Path, nargs="+", default=sorted((HERE / "data").glob("drafted*.jsonl")),
                        help="drafted sets (default: every training/data/drafted*.jsonl, one per drafting seed)")
    parser.add_argument("--out", type=Path, default=HERE / "data" / "pairs.jsonl")
    args = parser.parse_args(argv)
    from training.corpus import training_pipeline

    pipeline = training_pipeline()
    items = [json.loads(line) for path in args.drafted for line in drafted_lines(path)]
    # two drafting processes (other seeds) may have drafted from the same passage: the first item of a passage stays
    items = list({(item["sources"][0], item["passage"]["start"]): item for item in reversed(items)}.values())[::-1]
    pairs = build(pipeline, items)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs), encoding="utf-8")
    stats = statistics(pairs)
    (args.out.parent / "STATS.md").write_text(f"# Judge training pairs ({len(pairs)})\n\nFrom {len(items)} drafted "
                                              f"items: `python -m training.build_pairs`\n\n{stats}", encoding="utf-8")
    print(f"{len(pairs)} pairs from {len(items)} drafted items -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
