"""The one decision (rag/answer/decide.py) through the engine, rung by rung, with a scripted model whose hidden states
say whether a prompt holds the answer; and the decision file: missing, damaged or another model's, the rules decide
and the record says why. The real model's decisions are in test_answer_llm.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scripted_llm import ScriptedLLM, StatedLLM, passage_number

from rag.answer.decide import Decider, DecisionUnavailable, Probe, draft_signals
from rag.answer.engine import Engine
from rag.answer.result import REFUSAL, UNCONFIRMED, Found

QUESTION = "Why was the February trip called off?"
HOLDS = "weather balloon"
# state[0] is +1 where the prompt holds the answer, -1 where not: sigmoid(+-4) = 0.98 / 0.02
SUFFICIENCY = Probe(0, "prompt_end", np.array([4.0, 0, 0, 0], dtype=np.float32), 0.0)
CORRECTNESS = Probe(0, "draft_keys", np.array([4.0, 0, 0, 0], dtype=np.float32), 0.0)


def decider(**overrides) -> Decider:
    settings = {"sufficiency": SUFFICIENCY, "second_look_below": 0.5, "refuse_below": 0.5, "correctness": CORRECTNESS,
                "combination": {"features": ["correctness"], "mean": np.zeros(1), "scale": np.ones(1),
                                "coef": np.ones(1), "intercept": 0.0},
                "show_at_least": 0.5, "rules": frozenset()}
    return Decider(**(settings | overrides))


def balloon_reply(messages):
    return f"A Chinese weather balloon was spotted over U.S. airspace [{passage_number(messages, HOLDS)}]."


@pytest.fixture
def answer_last(seeded_pipeline):
    """The question's passages with the one about the balloon moved to just after what the first look holds: only a
    second look reads it."""
    ranked = seeded_pipeline.evidence(QUESTION)
    holding = [e for e in ranked if HOLDS in " ".join(e.text.split())]
    assert holding, "the seed articles hold the answer"
    others = [e for e in ranked if e not in holding]
    first = Engine(seeded_pipeline, StatedLLM(holds=HOLDS), decider()).looks(QUESTION, others)[0]
    return others[:len(first.passages)] + holding[:1] + others[len(first.passages):]


def test_an_answer_only_in_the_second_look_is_answered_from_it(seeded_pipeline, answer_last):
    llm = StatedLLM(balloon_reply, holds=HOLDS)
    events = list(Engine(seeded_pipeline, llm, decider()).stream(QUESTION, evidence=answer_last))
    found = [e for e in events if isinstance(e, Found)]
    answer = events[-1]
    assert [f.look for f in found] == [1, 2], "the first passages, then the second look's"
    assert HOLDS not in llm.prompts[0][-1]["content"] and HOLDS in llm.prompts[1][-1]["content"]
    assert found[0].evidence == found[1].evidence[:len(found[0].evidence)], "the second look adds to the first"
    assert not answer.refused and answer.decision.verdict == "answered" and answer.decision.looks == 2
    assert answer.decision.readings[0] < 0.5 <= answer.decision.readings[1]
    assert len(answer.look_s) == 2 and all(s >= 0 for s in answer.look_s), "each look's reading is timed"
    assert HOLDS in answer.evidence[answer.citations[0].number - 1].text


def test_a_first_look_that_holds_the_answer_is_drafted_at_once(seeded_pipeline):
    llm = StatedLLM(balloon_reply, holds=HOLDS)
    answer = Engine(seeded_pipeline, llm, decider()).ask(QUESTION)
    assert len(llm.prompts) == 1 and answer.decision.looks == 1 and answer.decision.verdict == "answered"


def test_no_look_holds_it_refused_before_a_word_is_written(seeded_pipeline, answer_last):
    llm = StatedLLM("It was the weather [1].", holds="no passage says this")
    answer = Engine(seeded_pipeline, llm, decider()).ask(QUESTION, evidence=answer_last)
    assert answer.refused and answer.answer == REFUSAL and answer.draft == ""
    assert answer.decision.rung == "sufficiency" and answer.decision.looks == 2
    assert llm.replies == ["It was the weather [1]."], "nothing was drafted"


def test_without_a_refusal_rung_the_last_look_is_drafted_and_confirmed(seeded_pipeline, answer_last):
    llm = StatedLLM("It was the weather [1].", holds="no passage says this", draft_state=-1.0)
    answer = Engine(seeded_pipeline, llm, decider(refuse_below=None)).ask(QUESTION, evidence=answer_last)
    assert answer.refused and answer.answer == UNCONFIRMED and answer.draft == "It was the weather [1]."
    assert answer.decision.rung == "confirmation" and answer.decision.signals["confidence"] < 0.5


def test_a_draft_that_says_it_has_no_answer_is_refused_not_unconfirmed(seeded_pipeline):
    llm = StatedLLM("The passages do not mention why it was called off.", holds=HOLDS, draft_state=-1.0)
    answer = Engine(seeded_pipeline, llm, decider()).ask(QUESTION)
    assert answer.answer == REFUSAL and answer.decision.rung == "confirmation"
    assert "the model says the passages don't give the answer" in answer.decision.why


def test_an_empty_draft_always_refuses(seeded_pipeline):
    answer = Engine(seeded_pipeline, StatedLLM("", holds=HOLDS), decider(show_at_least=None)).ask(QUESTION)
    assert answer.refused and answer.decision.rung == "rule" and answer.decision.why == "empty generation"


def test_a_second_look_is_only_read_where_the_decider_can_tell(seeded_pipeline, answer_last):
    llm = StatedLLM("It was postponed [1].", holds="no passage says this")
    answer = Engine(seeded_pipeline, llm, decider(second_look_below=None, refuse_below=None,
                                                  show_at_least=None)).ask(QUESTION, evidence=answer_last)
    assert len(llm.prompts) == 1 and answer.decision.looks == 1


def test_no_second_look_when_its_budget_is_zero(seeded_pipeline, answer_last):
    llm = StatedLLM("It was postponed [1].", holds=HOLDS)  # the first look lacks it: the decider would read a second
    engine = Engine(seeded_pipeline, llm, decider(refuse_below=None, show_at_least=None))
    engine.settings = engine.settings.model_copy(update={"second_look_tokens": 0})  # RAG_SECOND_LOOK_TOKENS=0
    answer = engine.ask(QUESTION, evidence=answer_last)
    assert len(llm.prompts) == 1 and answer.decision.looks == 1 and len(answer.decision.readings) == 1


def test_the_record_says_what_decided(seeded_pipeline, answer_last):
    answer = Engine(seeded_pipeline, StatedLLM(balloon_reply, holds=HOLDS), decider()).ask(QUESTION, evidence=answer_last)
    record = answer.record()["decision"]
    assert record["verdict"] == "answered" and record["looks"] == 2 and len(record["readings"]) == 2
    assert record["thresholds"]["second_look_below"] == 0.5 and record["fallback"] == ""
    assert set(record["signals"]) >= {"sufficiency", "correctness", "grounding", "copied", "confidence"}


def test_draft_signals_name_the_rules_found():
    found = draft_signals(["the model says the passages don't give the answer"], 0.0, 0.2, [], 0.3, None, 2,
                          [0.4, None, 0.7], [0.5, 0.6, None])
    assert found["says_not"] == 1.0 and found["unsupported"] == 0.0 and found["looks"] == 2.0
    assert (found["best_rank"], found["relevance"]) == (0.7, 0.6)
    assert found["mean_logprob"] < 0 and found["correctness"] is None


# the decision file


def write(folder, **fields):
    data = {"model": "stated", "model_sha256": StatedLLM.model_sha256, "width": StatedLLM.WIDTH,
            "probes": {"sufficiency": {"feature": "prompt_end", "layer": 3, "direction": [4, 0, 0, 0], "bias": 0.0}},
            "second_look_below": 0.5, "refuse_below": None, "show_at_least": None, "rules": ["dangling"]} | fields
    (folder / "stated.json").write_text(json.dumps(data), encoding="utf-8")


class Named(StatedLLM):
    name = "stated"


def test_a_decision_file_loads_and_watches_its_layers(tmp_path):
    write(tmp_path)
    llm = Named(holds=HOLDS)
    loaded = Decider.load(llm, folder=tmp_path)
    assert loaded.fallback == "" and loaded.second_look_below == 0.5 and loaded.rules == {"dangling"}
    assert llm.layers == (3,)


@pytest.mark.parametrize("damage, says", [
    (lambda folder: None, "stated.json is missing; restore it from git or fit it"),
    (lambda folder: (folder / "stated.json").write_text("{not json", encoding="utf-8"), "is not a decision file"),
    (lambda folder: write(folder, model_sha256="0" * 64), "belongs to the model file 000000000000..."),
    (lambda folder: write(folder, width=8), "is not a decision file"),
    (lambda folder: write(folder, rules=["politeness"]), "unknown word rules"),
    (lambda folder: write(folder, probes={}), "has no probes"),
])
def test_a_missing_or_altered_file_leaves_the_rules_and_says_why(tmp_path, seeded_pipeline, damage, says):
    damage(tmp_path)
    with pytest.raises(DecisionUnavailable, match=says.replace("(", r"\(").replace(".", r"\.")):
        Decider.from_file(tmp_path / "stated.json", StatedLLM.model_sha256)
    llm = Named(balloon_reply, holds=HOLDS)
    fallback = Decider.load(llm, folder=tmp_path)
    assert says.split(";")[0] in fallback.fallback and not fallback.reads_states
    answer = Engine(seeded_pipeline, llm, fallback).ask(QUESTION)
    assert says.split(";")[0] in answer.record()["decision"]["fallback"]
    assert answer.decision.looks == 1 and answer.decision.verdict == "answered", "the word rules let it through"


def test_a_backend_without_states_gets_the_rules_and_the_reason(seeded_pipeline):
    engine = Engine(seeded_pipeline, ScriptedLLM(balloon_reply))
    assert engine.decider.fallback == "the model's states cannot be read: a scripted stand-in has no hidden states"
    assert engine.ask(QUESTION).record()["decision"]["fallback"] == engine.decider.fallback
