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


def load_questions(model: str = "default", out: Path = OUT, sets: tuple[str, ...] = CORPORA) -> list[Question]:
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
