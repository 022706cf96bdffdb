"""The unit ranker (rag/search/ranker.py) and what it orders: its file loads or says why not, the passages come in
its order, and the evidence gate still reads the best relevance of any unit whatever the ranker puts first."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rag.errors import RagError
from rag.pipeline import Pipeline
from rag.search.evidence import candidates, select_evidence
from rag.search.features import FEATURES, unit_features
from rag.search.ranker import RANKER, Ranker, RankerUnavailable, relevance

QUESTION = "Why was the February trip called off?"


def test_the_shipped_ranker_loads_and_scores_probabilities():
    ranker = Ranker.load()
    assert set(ranker.features) <= set(FEATURES) and ranker.card.get("validation")
    scores = ranker.order(np.zeros((3, len(FEATURES)), dtype=np.float32))
    assert scores.shape == (3,) and np.all((scores > 0) & (scores < 1))


@pytest.mark.parametrize("text, says", [(None, "is missing; restore it from git or train it"),
                                        ("{not json", "is not a ranker file"),
                                        (json.dumps({"features": ["dense", "nonsense"], "mean": [0, 0], "scale": [1, 1],
                                                     "coef": [1, 1], "intercept": 0}), "features ['nonsense'] unknown")])
def test_a_missing_or_damaged_ranker_file_says_why(tmp_path, text, says):
    path = tmp_path / "ranker.json"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(RankerUnavailable, match=says.replace("[", r"\[").replace("]", r"\]")):
        Ranker.load(path)
    assert issubclass(RankerUnavailable, RagError)


def test_without_its_file_the_hand_set_weights_order_and_the_record_says_why(seeded_pipeline, tmp_path):
    from scripted_llm import ScriptedLLM

    from rag.answer.engine import Engine

    pipeline = Pipeline(seeded_pipeline.settings, embedder=seeded_pipeline.embedder, store=seeded_pipeline.store,
                        ranker_file=tmp_path / "gone.json")
    found = pipeline.evidence(QUESTION)
    assert pipeline.ranker is None and "gone.json is missing" in pipeline.ranker_note
    assert [e.rank for e in found] == [e.score for e in found] == sorted((e.score for e in found), reverse=True)
    answer = Engine(pipeline, ScriptedLLM("A weather balloon [1].")).ask(QUESTION)
    assert "gone.json is missing" in answer.record()["evidence_order"] and "hand-set weights" in answer.evidence_order
    assert RANKER.is_file()


def test_the_gate_reads_the_best_relevance_whatever_the_ranker_puts_first(seeded_pipeline):
    chunks = seeded_pipeline.retriever.retrieve(QUESTION)
    units = candidates(chunks, seeded_pipeline.document)
    best = float(relevance(unit_features(QUESTION, units, seeded_pipeline.sentence_vectors)).max())

    class Backwards:  # ranks the least relevant units first
        def order(self, features):
            return -relevance(features)

    kept = select_evidence(QUESTION, chunks, seeded_pipeline.sentence_vectors, 2, seeded_pipeline.document,
                           ranker=Backwards())
    assert max(e.score for e in kept) == pytest.approx(best, abs=1e-4)
    assert kept[0].score < best, "the ranker's first passage is not the most relevant one"
