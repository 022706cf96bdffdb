"""Validate the hand-checked evaluation set evals/qa.jsonl against seeds/."""

import json
from collections import Counter
from pathlib import Path

import pytest

from evals.metrics import contains_answer

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
SPLITS = {"dev", "heldout"}
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
