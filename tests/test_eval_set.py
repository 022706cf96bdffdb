"""Validate the hand-checked evaluation sets: evals/qa.jsonl against seeds/, evals/docs_qa.jsonl against evals/corpora/docs/."""

import json
from collections import Counter
from pathlib import Path

import pytest

from evals.dataset import SPLITS, Item, document_text, folded, gold_spans, load_items
from evals.metrics import contains_answer
from rag.read.readers import is_supported

ROOT = Path(__file__).resolve().parents[1]
QA_PATH = ROOT / "evals" / "qa.jsonl"
SEEDS = ROOT / "seeds"

ALLOWED_TYPES = {
    "factoid", "multi_doc", "why", "how", "list", "date", "noise",
    "paraphrase", "unanswerable", "followup", "topic_switch",
}
MIN_COUNTS = {
    "factoid": 14, "multi_doc": 6, "why": 6, "how": 3, "list": 5, "date": 8,
    "noise": 5, "paraphrase": 8, "unanswerable": 30, "followup": 23, "topic_switch": 12,
}
MIN_TOTAL = 150
MIN_UNANSWERABLE_FRACTION = 0.15
FIELDS = {
    "id": str, "question": str, "answers": list, "sources": list,
    "quotes": list, "type": str, "history": list, "split": str,
}
OPTIONAL_FIELDS = {"key_terms": list}
HELDOUT_SHARE = (0.25, 0.4)
KEY_TERM_TYPES = {"why", "how", "list"}  # long answers: containment of one gold answer is too lenient
HISTORY_TYPES = {"followup", "topic_switch"}  # must carry a history; unanswerable items may (an unanswerable follow-up)


def _load_lines():
    return QA_PATH.read_text(encoding="utf-8").splitlines()


def _load_items():
    return [json.loads(line) for line in _load_lines() if line.strip()]


ITEMS = _load_items() if QA_PATH.exists() else []
IDS = [item.get("id", f"line{i}") for i, item in enumerate(ITEMS)]


def _seed_text(name):
    return (SEEDS / name).read_text(encoding="utf-8")


def test_file_exists_and_every_line_parses():
    assert QA_PATH.exists(), f"missing {QA_PATH}"
    lines = _load_lines()
    assert lines, "eval set is empty"
    for n, line in enumerate(lines, 1):
        assert line.strip(), f"blank line {n}"
        obj = json.loads(line)
        assert isinstance(obj, dict), f"line {n} is not a JSON object"


def test_ids_unique():
    counts = Counter(IDS)
    dupes = [i for i, c in counts.items() if c > 1]
    assert not dupes, f"duplicate ids: {dupes}"


@pytest.mark.parametrize("item", ITEMS, ids=IDS)
def test_fields_and_types(item):
    assert set(FIELDS) <= set(item) <= set(FIELDS) | set(OPTIONAL_FIELDS), f"fields {sorted(item)}"
    for key, typ in {**FIELDS, **OPTIONAL_FIELDS}.items():
        if key in item:
            assert isinstance(item[key], typ), f"{key} should be {typ.__name__}"
    assert item["id"].strip() and item["question"].strip()
    assert item["type"] in ALLOWED_TYPES, item["type"]
    assert item["split"] in SPLITS, item["split"]
    for key in ("answers", "sources", "quotes"):
        for value in item[key]:
            assert isinstance(value, str) and value.strip(), f"bad {key} entry {value!r}"


@pytest.mark.parametrize("item", ITEMS, ids=IDS)
def test_sources_exist_and_quotes_verbatim(item):
    texts = {}
    for src in item["sources"]:
        path = SEEDS / src
        assert path.is_file(), f"source not in seeds/: {src}"
        texts[src] = _seed_text(src)
    for quote in item["quotes"]:
        assert any(quote in t for t in texts.values()), (
            f"quote not found verbatim in {item['sources']}: {quote!r}"
        )


@pytest.mark.parametrize("item", ITEMS, ids=IDS)
def test_answerability_consistency(item):
    if item["type"] == "unanswerable":
        assert item["answers"] == [], "unanswerable items must have no answers"
        assert item["sources"] == [], "unanswerable items must have no sources"
        assert item["quotes"] == [], "unanswerable items must have no quotes"
    else:
        assert len(item["answers"]) >= 1, "answerable item needs an answer"
        assert len(item["sources"]) >= 1, "answerable item needs a source"
        assert len(item["quotes"]) >= 1, "answerable item needs a quote"
        assert len(set(item["sources"])) == len(item["sources"]), "duplicate source"


@pytest.mark.parametrize("item", ITEMS, ids=IDS)
def test_history(item):
    history = item["history"]
    if item["type"] in HISTORY_TYPES:
        assert history, f"{item['type']} items need a non-empty history"
    elif item["type"] != "unanswerable":
        assert history == [], "only followup, topic_switch and unanswerable items carry history"
    for turn_no, turn in enumerate(history):
        assert isinstance(turn, dict) and set(turn) == {"role", "content"}, turn
        expected = "user" if turn_no % 2 == 0 else "assistant"
        assert turn["role"] == expected, f"turn {turn_no} should be {expected}"
        assert isinstance(turn["content"], str) and turn["content"].strip()
    if history:
        assert history[-1]["role"] == "assistant", "the history ends with the assistant's answer"


@pytest.mark.parametrize("item", ITEMS, ids=IDS)
def test_key_terms(item):
    groups = item.get("key_terms", [])
    if item["type"] in KEY_TERM_TYPES:
        assert groups, f"{item['type']} items need key_terms"
    if not item["answers"]:
        assert not groups, "an unanswerable item has no key terms"
    if not groups:
        return
    assert 2 <= len(groups) <= 4, "2-4 groups: the essential facts only"
    for group in groups:
        assert isinstance(group, list) and group, f"empty group in {groups}"
        assert all(isinstance(term, str) and term.strip() for term in group), f"bad term in {group}"
        # a term no quote or gold answer supports could never be required of an answer
        assert any(contains_answer(text, group) for text in item["quotes"] + item["answers"]), (
            f"no quote or answer contains any of {group}"
        )


def test_heldout_split_share_and_spread():
    heldout = [item for item in ITEMS if item["split"] == "heldout"]
    low, high = HELDOUT_SHARE
    assert low <= len(heldout) / len(ITEMS) <= high, f"{len(heldout)}/{len(ITEMS)} heldout"
    counts = Counter(item["type"] for item in ITEMS)
    held_types = {item["type"] for item in heldout}
    missing = [t for t, n in counts.items() if n >= 3 and t not in held_types]
    assert not missing, f"types with no heldout item: {missing}"


@pytest.mark.parametrize(
    "item", [i for i in ITEMS if i.get("type") == "multi_doc"],
    ids=[i["id"] for i in ITEMS if i.get("type") == "multi_doc"],
)
def test_multi_doc_needs_two_sources_each_quoted(item):
    assert len(set(item["sources"])) >= 2, "multi_doc needs >= 2 sources"
    for src in item["sources"]:
        text = _seed_text(src)
        assert any(q in text for q in item["quotes"]), f"no quote from {src}"


def test_type_counts():
    counts = Counter(item["type"] for item in ITEMS)
    total = len(ITEMS)
    assert total >= MIN_TOTAL, f"only {total} items"
    for typ, minimum in MIN_COUNTS.items():
        assert counts[typ] >= minimum, f"{typ}: {counts[typ]} < {minimum}"
    assert counts["unanswerable"] >= MIN_UNANSWERABLE_FRACTION * total, (
        f"unanswerable {counts['unanswerable']}/{total} below 15%"
    )


def test_id_format():
    for item_id in IDS:
        assert len(item_id) == 4 and item_id[0] == "q" and item_id[1:].isdigit(), item_id


# ---- the docs corpus: evals/docs_qa.jsonl over evals/corpora/docs (html, pdf, docx from Debian packages)

DOCS_QA = ROOT / "evals" / "docs_qa.jsonl"
DOCS = ROOT / "evals" / "corpora" / "docs"
DOCS_SOURCES = ROOT / "evals" / "corpora" / "docs_SOURCES.md"
DOCS_MIN_COUNTS = {"factoid": 10, "inline_code": 8, "pdf_wrap": 6, "multi_doc": 5, "paraphrase": 6, "section": 3,
                   "unanswerable": 12}
DOCS_TYPES = {*DOCS_MIN_COUNTS, "why", "how"}
DOCS_MIN_WHY_HOW = 8
DOCS_MIN_TOTAL = 60
DOCS_FIELDS = {**FIELDS, "split": str}
HELDOUT_SHARE = (0.25, 0.40)
MAX_CORPUS_BYTES = 6 * 2**20

DOCS_RAW = [json.loads(line) for line in DOCS_QA.read_text(encoding="utf-8").splitlines()] if DOCS_QA.exists() else []
DOCS_ITEMS = load_items(DOCS_QA) if DOCS_QA.exists() else []
DOCS_IDS = [item.id for item in DOCS_ITEMS]
ANSWERABLE = [item for item in DOCS_ITEMS if item.answerable]


def _folded_lower(text):
    return folded(text)[0].lower()


def _source_folded(name):
    return document_text(DOCS / name)[1][0].lower()


def test_docs_set_parses_with_unique_well_formed_ids():
    assert DOCS_RAW, f"missing or empty {DOCS_QA}"
    assert len(DOCS_ITEMS) == len(DOCS_RAW)
    assert len(set(DOCS_IDS)) == len(DOCS_IDS), [i for i, c in Counter(DOCS_IDS).items() if c > 1]
    for item_id in DOCS_IDS:
        assert len(item_id) == 4 and item_id[0] == "d" and item_id[1:].isdigit(), item_id


@pytest.mark.parametrize("raw", DOCS_RAW, ids=DOCS_IDS)
def test_docs_fields(raw):
    assert set(DOCS_FIELDS) <= set(raw) <= {*DOCS_FIELDS, "key_terms"}, f"fields {sorted(raw)}"
    for key, typ in DOCS_FIELDS.items():
        assert isinstance(raw[key], typ), f"{key} should be {typ.__name__}"
    assert raw["type"] in DOCS_TYPES, raw["type"]
    assert raw["split"] in SPLITS, raw["split"]
    assert raw["history"] == [], "the docs set has no follow-ups"
    for key in ("answers", "sources", "quotes"):
        assert all(isinstance(v, str) and v.strip() for v in raw[key]), f"bad {key} entry"


def test_docs_type_counts():
    counts = Counter(item.type for item in DOCS_ITEMS)
    assert len(DOCS_ITEMS) >= DOCS_MIN_TOTAL, f"only {len(DOCS_ITEMS)} items"
    for typ, minimum in DOCS_MIN_COUNTS.items():
        assert counts[typ] >= minimum, f"{typ}: {counts[typ]} < {minimum}"
    assert counts["why"] + counts["how"] >= DOCS_MIN_WHY_HOW, counts


def test_docs_heldout_is_about_a_third_and_spread_over_all_types():
    heldout = [item for item in DOCS_ITEMS if item.split == "heldout"]
    share = len(heldout) / len(DOCS_ITEMS)
    assert HELDOUT_SHARE[0] <= share <= HELDOUT_SHARE[1], f"heldout share {share:.2f}"
    assert {item.type for item in heldout} == {item.type for item in DOCS_ITEMS}, "a type has no heldout item"


@pytest.mark.parametrize("item", DOCS_ITEMS, ids=DOCS_IDS)
def test_docs_answerability(item):
    if item.type == "unanswerable":
        assert (item.answers, item.sources, item.quotes, item.key_terms) == ([], [], [], [])
    else:
        assert item.answers and item.sources and item.quotes
        assert len(set(item.sources)) == len(item.sources), "duplicate source"
        assert all((DOCS / source).is_file() for source in item.sources), item.sources


@pytest.mark.parametrize("item", DOCS_ITEMS, ids=DOCS_IDS)
def test_docs_key_terms(item):
    if item.type in ("why", "how"):
        assert item.key_terms, "why/how items are scored on key_terms"
    if item.key_terms:
        assert 2 <= len(item.key_terms) <= 3, "2-3 groups: the essential facts only"
        for group in item.key_terms:
            assert isinstance(group, list) and group, group
            assert all(isinstance(term, str) and term.strip() for term in group), group


@pytest.mark.parametrize("item", ANSWERABLE, ids=[item.id for item in ANSWERABLE])
def test_docs_every_quote_is_located_in_its_sources(item):
    spans = gold_spans(item, DOCS)
    assert len(spans) == len(item.quotes), "a quote is not in the text as read of any of its sources"
    for quote, (source, start, end) in zip(item.quotes, spans, strict=True):
        located = document_text(DOCS / source)[0][start:end]
        assert folded(located)[0] == folded(quote)[0], (quote, located)
    if item.type == "multi_doc":
        assert {source for source, _, _ in spans} == set(item.sources), "every source needs a quote of its own"


@pytest.mark.parametrize("item", ANSWERABLE, ids=[item.id for item in ANSWERABLE])
def test_docs_answers_and_key_terms_occur_in_the_sources(item):
    """A typo in an answer, or a key term no document uses, would make a right answer score as wrong."""
    texts = [_source_folded(source) for source in item.sources]
    assert any(_folded_lower(answer) in text for answer in item.answers for text in texts), item.answers
    for group in item.key_terms:
        assert any(_folded_lower(term) in text for term in group for text in texts), group


def test_docs_corpus_is_mixed_small_and_every_document_is_sourced():
    documents = [p for p in DOCS.rglob("*") if p.is_file() and is_supported(p)]
    suffixes = Counter(p.suffix.lower() for p in documents)
    assert suffixes[".html"] >= 8 and suffixes[".pdf"] >= 3 and suffixes[".docx"] >= 1, suffixes
    assert len({p.relative_to(DOCS).parts[0] for p in documents}) >= 3, "documents from at least three packages"
    assert sum(p.stat().st_size for p in DOCS.rglob("*") if p.is_file()) < MAX_CORPUS_BYTES
    listed = DOCS_SOURCES.read_text(encoding="utf-8")
    for path in documents:
        assert f"`{path.relative_to(DOCS).as_posix()}`" in listed, f"{path} is not in {DOCS_SOURCES.name}"
    licences = sorted((DOCS / "licenses").glob("*.copyright"))
    assert licences and not any(is_supported(p) for p in (DOCS / "licenses").iterdir()), "licences would be indexed"
    for licence in licences:
        assert f"`licenses/{licence.name}`" in listed, f"{licence.name} is not in {DOCS_SOURCES.name}"


def test_gold_spans_finds_quotes_however_the_reader_broke_the_lines(tmp_path):
    text = "Both are mar-\nshaled; the file is named\nconfig\n, a well-\ndefined ﬁle.\n"
    (tmp_path / "a.txt").write_text(text, encoding="utf-8")
    item = Item(id="x", question="?", answers=["a"], sources=["a.txt"], type="pdf_wrap",
                quotes=["are marshaled", "named config,", "a well-defined file", "not in the text"])
    spans = gold_spans(item, tmp_path)
    assert [text[start:end] for _, start, end in spans] == ["are mar-\nshaled", "named\nconfig\n,", "a well-\ndefined ﬁle"]
