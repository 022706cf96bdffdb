"""The answer judge's rules, each on scripted drafts through the real engine (real retrieval, scripted model), and the
calibrated combination on given signals. Claims about the real model's answers are in test_answer_llm.py."""

from __future__ import annotations

import pytest
from scripted_llm import ScriptedLLM, passage_number

from rag.answer.engine import Engine
from rag.answer.judge import combine, judge
from rag.answer.result import REFUSAL
from rag.answer.wellformed import contradicts, dangling, loop_start, says_not_answered, without_repeats

QUESTION = "Why was the February trip called off?"
BALLOON = "It was called off after a Chinese weather balloon was spotted over U.S. airspace"
WEIGHTS = {"features": ["sufficiency", "grounding"], "coef": [1.0, 2.0], "intercept": -1.0, "threshold": 0.5}


def cited(sentence: str, phrase: str = "weather balloon"):
    """A scripted reply citing the passage the prompt numbered as the one holding phrase."""
    return lambda messages: sentence.format(n=passage_number(messages, phrase))


@pytest.fixture
def engine_for(seeded_pipeline):
    def build(*replies):
        return Engine(seeded_pipeline, ScriptedLLM(*replies), weights={})  # rules only: no fitted weights
    return build


def test_a_loop_is_cut_and_its_repeats_dropped(engine_for):
    loop = cited(f"{BALLOON} [{{n}}]. " * 5 + "It was rescheduled for June [{n}].")
    answer = engine_for(loop).ask(QUESTION)
    assert not answer.refused
    assert answer.answer.count("weather balloon") == 1 and "rescheduled" not in answer.answer  # stopped at the repeat
    assert answer.judge.signals["finish_repeat"] == 1.0


def test_a_sentence_that_stops_where_the_answer_should_stand_is_refused(engine_for):
    answer = engine_for(cited("The trip was called off because of a [{n}].")).ask(QUESTION)
    assert answer.refused and answer.answer == REFUSAL
    assert "a sentence stops where the answer should stand" in answer.refusal_reason


def test_a_yes_taken_back_is_refused(engine_for):
    question = "Did Blinken meet Xi Jinping in Beijing in June 2023?"
    draft = "Yes. Blinken did not meet Xi Jinping in Beijing in June 2023 [1]."
    answer = engine_for(draft).ask(question)
    assert answer.refused and "the answer takes back its own yes" in answer.refusal_reason


def test_a_draft_saying_the_passages_dont_answer_is_refused(engine_for):
    answer = engine_for("The passages do not mention what they ate at the game [1].").ask(
        "What did Blinken eat at the basketball game?")
    assert answer.refused and "the model says the passages don't give the answer" in answer.refusal_reason


def test_a_supported_answer_passes_every_rule(engine_for):
    answer = engine_for(cited(f"{BALLOON} [{{n}}].")).ask(QUESTION)
    assert not answer.refused and answer.judge.decision == "answer" and answer.judge.reasons == []
    assert answer.judge.source == "rules only" and answer.record()["judge"]["supported"] == [True]


class ProbedLLM(ScriptedLLM):
    """A scripted model that answers every yes/no probe with the same probability and counts the probes."""
    logits = "in-process"

    def __init__(self, *replies, p_yes: float = 0.9):
        super().__init__(*replies)
        self.p_yes, self.probes = p_yes, []

    def yes_probability(self, messages, reply=None):
        self.probes.append(messages[-1]["content"][-60:])
        return self.p_yes


@pytest.mark.parametrize("setting, weights, asked", [
    ("auto", {}, []),  # no fitted weights: no probe costs the user time
    ("auto", WEIGHTS, ["sufficiency"]),  # the weights use one probe: only it is asked
    ("all", {}, ["answer_check", "sufficiency"]),  # the eval run that the weights are fitted on asks every one
    ("none", WEIGHTS, []),
])
def test_only_the_probes_the_judge_uses_are_asked(seeded_pipeline, monkeypatch, setting, weights, asked):
    monkeypatch.setattr(seeded_pipeline, "settings", seeded_pipeline.settings.model_copy(update={"judge_probes": setting}))
    llm = ProbedLLM(cited(f"{BALLOON} [{{n}}]."))
    answer = Engine(seeded_pipeline, llm, weights=weights).ask(QUESTION)
    assert [p for p in ("answer_check", "sufficiency") if p in answer.judge.signals] == sorted(asked)
    assert len(llm.probes) == len(asked)
    assert answer.judge.source == ("in-process" if asked and weights else "rules only")  # who decided
    if setting == "auto" and weights:  # sufficiency 0.9 and full grounding clear the threshold
        assert not answer.refused and answer.judge.answers_question > 0.5


def test_the_combination_decides_by_its_threshold():
    assert combine({"sufficiency": 0.5, "grounding": 1.0}, WEIGHTS) == pytest.approx(1 / (1 + 2.718281828 ** -1.0))
    assert combine({"grounding": 1.0}, WEIGHTS) is None  # a signal missing: no score
    low = judge({"sufficiency": 0.02, "grounding": 1.0}, [True], [], "in-process", WEIGHTS)
    high = judge({"sufficiency": 0.9, "grounding": 1.0}, [True], [], "in-process", WEIGHTS)
    assert low.decision == "refuse" and "judged unlikely to answer the question" in low.reasons[0]
    assert high.decision == "answer" and high.answers_question > 0.5 and high.source == "in-process"
    rules = judge({"grounding": 1.0}, [True], [], "none", WEIGHTS)
    assert rules.decision == "answer" and rules.answers_question is None and rules.source == "rules only"


@pytest.mark.parametrize(("text", "repeat"), [
    ("Blinken met Xi [1]. He left on Monday [2]. Blinken met Xi [1].", "Blinken met Xi [1]."),
    ("He left because he was seeking new ties because he was seeking new ties because", "because he was seeking new ties because"),
    ("Blinken met Xi [1]. Blinken met Wang Yi [2].", None),
    ("Yes. Yes.", None),  # too short to be a loop
])
def test_a_repeat_is_found_where_it_starts(text, repeat):
    at = loop_start(text)
    assert (text[at:] if at is not None else None) == repeat


def test_repeats_are_dropped_keeping_the_fuller_sentence_in_the_first_place():
    kept, dropped = without_repeats(["Blinken met Xi.", "He left.", "Blinken met Xi in Beijing.", "Blinken met Xi."])
    assert kept == ["Blinken met Xi in Beijing.", "He left."] and dropped == 2


@pytest.mark.parametrize(("sentence", "expected"), [
    ("The meeting was held in [2].", True), ("The default port is [1].", True), ("[3].", True),
    ("The meeting was held in Vienna [2].", False), ("It is 8080 [1].", False),
])
def test_dangling_sentences(sentence, expected):
    assert dangling(sentence) is expected


def test_contradiction_needs_a_denial_of_what_was_asked():
    asked = "Did he attend the summit?"
    assert contradicts(["Yes.", "He did not attend the summit."], asked)
    assert not contradicts(["Yes.", "He attended the summit on Monday."], asked)
    assert not contradicts(["Yes.", "It was not a long visit."], asked)  # a negation about something else


def test_non_answers_in_the_words_models_use():
    assert says_not_answered("The passages do not mention what they ate.")
    assert says_not_answered("This information is not provided in the passages [2].")
    assert not says_not_answered("They ate Peking duck at the banquet [1].")
