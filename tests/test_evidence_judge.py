"""The trained evidence judge: its shipped weights (checked by sha256), what it scores on real passages of the seed
articles, and the engine using it (real retrieval and judge, scripted model): passages reordered by it, a question
no passage answers refused before the model is asked, an unsupported sentence dropped, the scores in the record."""

from __future__ import annotations

import shutil

import pytest
from scripted_llm import ScriptedLLM, passage_number

from rag.answer.engine import Engine
from rag.answer.evidence_judge import MODEL_DIR, EvidenceJudge
from rag.errors import ModelMissingError
from rag.pipeline import Pipeline
from rag.text import passage_input

QUESTION = "Why was the February trip called off?"


@pytest.fixture(scope="module")
def judge():
    return EvidenceJudge.load()


# The shipped thresholds are what calibration chose (docs/decisions.md); these tests set their own to test the
# mechanism: a gate at 0.4 and a claim check at 0.5, on passages where the judge's scores are far from both.
MECHANISM = {"answerable": 0.4, "supported": 0.5}


@pytest.fixture(scope="module")
def judged(seeded_pipeline):
    """The seed index with the trained judge (rerank, gate and claim check at MECHANISM's thresholds)."""
    judge = EvidenceJudge.load()
    judge.thresholds = dict(MECHANISM)
    return Pipeline(seeded_pipeline.settings.model_copy(update={"judge": "trained", "judge_rerank": True}),
                    embedder=seeded_pipeline.embedder,
                    store=seeded_pipeline.store, judge=judge)


def test_the_weights_are_checked_before_loading(tmp_path):
    copy = tmp_path / "judge_model"
    shutil.copytree(MODEL_DIR, copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelMissingError, match="does not match the sha256"):
        EvidenceJudge.load(copy)
    with pytest.raises(ModelMissingError, match="weights are missing"):
        EvidenceJudge.load(tmp_path / "nowhere")


def test_the_card_holds_thresholds_and_the_heldout_packages_figures(judge):
    assert {"answerable", "supported"} <= set(judge.thresholds)
    assert all(0.0 <= t < 1.0 for t in judge.thresholds.values())
    assert judge.card["heldout"]["question"]["auc"] > 0.85  # 0.911 on the five packages never trained on
    assert judge.card["heldout"]["claim"]["auc"] > 0.75


def test_the_passage_that_answers_scores_above_one_that_only_shares_words(judge):
    answers = "It was called off after a Chinese weather balloon was spotted over U.S. airspace in February."
    near = "Blinken's February trip had been planned for months and was to include talks in Beijing."
    right, wrong = judge.answers(QUESTION, [passage_input("Blinken visit", answers), passage_input("Blinken visit", near)])
    assert right > wrong


def test_a_changed_number_is_not_supported(judge):
    passage = passage_input("Server guide > Timeouts", "A default value of 300 seconds is used.")
    same, changed = judge.supports("The default timeout is 300 seconds.", [passage])[0], \
        judge.supports("The default timeout is 900 seconds.", [passage])[0]
    assert same > changed


def test_the_judge_orders_the_passages_and_the_record_shows_its_scores(judged):
    evidence = judged.evidence(QUESTION)
    scores = [e.answer_score for e in evidence]
    assert all(s is not None for s in scores) and scores == sorted(scores, reverse=True)
    assert "weather balloon" in evidence[0].text


def test_a_question_no_passage_answers_is_refused_before_the_model_is_asked(judged):
    llm = ScriptedLLM("They ate dumplings at the banquet [1].")
    answer = Engine(judged, llm, weights={}).ask("Which football team does Xi Jinping support?")
    assert answer.refused and llm.prompts == []
    assert answer.refusal_reason.startswith("no passage answers the question")


def test_an_unsupported_sentence_is_dropped_and_each_sentence_carries_its_score(judged):
    def reply(messages):
        n = passage_number(messages, "weather balloon")
        return (f"The trip was called off after a Chinese weather balloon was spotted over U.S. airspace [{n}]. "
                f"The balloon was shot down by a French submarine near Madrid [{n}].")
    answer = Engine(judged, ScriptedLLM(reply), weights={}).ask(QUESTION)
    assert not answer.refused
    assert "weather balloon" in answer.answer and "submarine" not in answer.answer
    record = answer.record()
    assert all(c["judged"] is not None for c in record["claims"])
    assert [c["supported"] for c in record["claims"]] == [True, False]
    assert all(p["answer_score"] is not None for p in record["passages"])


def test_the_rules_setting_uses_no_judge(seeded_pipeline):
    rules = Pipeline(seeded_pipeline.settings.model_copy(update={"judge": "rules"}), embedder=seeded_pipeline.embedder,
                     store=seeded_pipeline.store)
    assert rules.judge is None
    assert all(e.answer_score is None for e in rules.evidence(QUESTION))
