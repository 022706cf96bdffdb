"""The recorded looks (training/look_states.py) as questions to replay: each question's looks with their labels,
signals and states, grouped by the corpus a question belongs to (a training package, the docs set, the seed set).

Example: questions = load_questions()           # every corpus recorded so far
         questions[0].id, questions[0].corpus, questions[0].answerable -> ("d001", "docs", True)
         questions[0].looks[1]["present"], questions[0].looks[1]["correct"] -> (True, True)
         states(questions, "prompt_end", 20, look=1) -> (n, 1536) float32
A question's corpus is its package for the training questions and the set's name for an eval item; `split` tells the
eval sets' dev items (fitted and validated on) from their heldout items (only reported).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.look_states import OUT, load_states

CORPORA = ("training", "docs", "seeds")


@dataclass
class Question:
    id: str
    corpus: str  # a training package, "docs" or "seeds"
    split: str  # "dev" / "heldout" for an eval item; the training questions' own split ("train" / "heldout")
    answerable: bool
    kind: str
    looks: dict[int, dict] = field(default_factory=dict)  # look number -> record
    folder: Path | None = None

    def states(self, look: int) -> dict:
        record = self.looks.get(look) or {}
        return load_states(self.folder / "states" / record["states"]) if record.get("states") else {}

    @property
    def refused_early(self) -> bool:
        """No prompt was made (nothing relevant, or nothing fits the context)."""
        return bool(self.looks.get(1, {}).get("no_prompt"))


MIN_ANSWER_WORDS = 3  # a drafted answer this long is right in other words when most of its words are in the draft
ANSWER_WORD_SHARE = 0.75


def drafted_right(draft: str, answers: list[str], key_terms) -> bool:
    """A training question's draft holds its drafted answer: as whole words (evals.metrics.gives_answer), or, for an
    answer of MIN_ANSWER_WORDS content words or more (the drafted answers are phrases: "to suppress any actual
    deliveries"), most of its content words.

    Example: drafted_right("The -N option suppresses actual deliveries [1].", ["to suppress any actual deliveries"],
                           []) -> True"""
    from evals.metrics import gives_answer
    from rag.text import content_words

    if gives_answer(draft, answers, key_terms):
        return True
    said = content_words(draft)
    return any(len(words := content_words(a)) >= MIN_ANSWER_WORDS and len(words & said) >= ANSWER_WORD_SHARE * len(words)
               for a in answers)


SPAN_SUPPORT = 0.5  # share of the first sentence's new content words that must stand in the answering span


def span_right(draft: str, question: str, span: str) -> bool:
    """A term's or FAQ heading's draft answers it: most of what its first sentence adds to the question stands in the
    span that answers it (the sentences after it add what the other passages say).

    Example: span_right("add_header adds a header [1]. It is often used.", "What does add_header do?",
                        "add_header: adds the given header to the response") -> True"""
    from rag.read.chunking import sentence_spans
    from rag.text import content_words

    spans = sentence_spans(draft)
    first = draft[spans[0][0]:spans[0][1]] if spans else draft
    new = content_words(first) - content_words(question)
    return bool(new) and len(new & content_words(span)) >= SPAN_SUPPORT * len(new)


def span_texts(questions: dict[str, dict]) -> dict[str, str]:
    """question id -> the text of the span that answers it, read from the training corpus's index."""
    from training.corpus import training_pipeline

    pipeline = training_pipeline()
    manifest = pipeline.store.manifest()
    found = {}
    for id_, q in questions.items():
        known = pipeline.document(manifest[q["source"]].file_hash) if q.get("span") and q["source"] in manifest else None
        if known:
            found[id_] = known[0][slice(*q["span"])]
    return found


def load_questions(model: str = "default", out: Path = OUT, sets: tuple[str, ...] = CORPORA) -> list[Question]:
    """Every recorded question; a training question's draft judged right by drafted_right (a short answer) or
    span_right (a term's or FAQ heading's question) rather than as recorded."""
    from training.probe_questions import read

    asked = {q["id"]: q for q in read()}
    spans = span_texts({i: q for i, q in asked.items() if not q["answers"] and q.get("span")}) if "training" in sets else {}
    found: dict[tuple[str, str], Question] = {}
    for name in sets:
        folder = out / f"{name}-{model}"
        path = folder / "records.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            corpus = record["group"] if name == "training" else name
            gold = asked.get(record["id"]) if name == "training" else None
            if gold and gold["answers"] and record.get("draft"):
                record["correct"] = drafted_right(record["draft"], gold["answers"], gold.get("key_terms") or [])
            elif gold and gold["id"] in spans and record.get("draft"):
                record["correct"] = bool(record.get("present")) and span_right(record["draft"], gold["question"],
                                                                               spans[gold["id"]])
            key = (name, record["id"])
            question = found.setdefault(key, Question(record["id"], corpus, record.get("split", ""),
                                                      record["answerable"], record.get("kind", ""), folder=folder))
            question.looks[record["look"]] = record
    return [q for q in found.values() if 1 in q.looks]


class StateCache:
    """Each (question, look)'s states read once: stacking a feature and layer over many questions reads the files
    only the first time."""

    def __init__(self):
        self._cache: dict[tuple[str, str, int], dict] = {}

    def get(self, question: Question, look: int) -> dict:
        key = (question.corpus, question.id, look)
        if key not in self._cache:
            self._cache[key] = question.states(look)
        return self._cache[key]

    def matrix(self, questions: list[Question], feature: str, layer: int, looks: list[int]) -> np.ndarray:
        """One row per (question, look): that look's state (zeros where there is none)."""
        rows = []
        for question, look in zip(questions, looks):
            state = self.get(question, look).get(feature, {}).get(layer)
            rows.append(state if state is not None else None)
        width = next((len(r) for r in rows if r is not None), 1536)
        return np.stack([r if r is not None else np.zeros(width, np.float32) for r in rows])
