"""The probes on the model's states and the decision ladder: the probe files' checks, the features read off a
generation, a fitted probe folded into one direction, and each rung of the ladder through the real engine, with a
stand-in model whose states are set by the test (the real model's capture is tested in test_capture.py)."""

from __future__ import annotations

import json
from html import escape

import numpy as np
import pytest
from scripted_llm import ScriptedLLM

from rag.answer.engine import Engine
from rag.answer.ladder import Ladder, decide
from rag.answer.probes import Probes, ProbesUnavailable, features, key_token_positions
from rag.answer.result import REFUSAL, UNCONFIRMED
from rag.answer.state_judge import StateJudge, load_state_judge
from rag.generate.backend import Generation
from rag.ui.render import answer_message

WIDTH, LAYER, SHA = 8, 3, "ab" * 32
QUESTION = "Why was the February trip called off?"
BALLOON = "The trip was called off after a Chinese weather balloon was spotted over the United States [1]."


def probe_file(folder, rules=("empty",), sufficiency=0.5, correctness=0.5, sha=SHA, model="scripted-states"):
    """Sufficiency reads the prompt's state along dimension 0, correctness the draft's mean along dimension 1:
    a state of +4 there scores 0.98, -4 scores 0.02."""
    def direction(axis):
        return [1.0 if n == axis else 0.0 for n in range(WIDTH)]
    data = {"model": model, "model_sha256": sha, "width": WIDTH, "rules": list(rules),
            "probes": {"sufficiency": {"layer": LAYER, "feature": "prompt_end", "direction": direction(0), "bias": 0.0,
                                       "threshold": sufficiency},
                       "correctness": {"layer": LAYER, "feature": "draft_mean", "direction": direction(1), "bias": 0.0,
                                       "threshold": correctness}}}
    folder.mkdir(exist_ok=True)
    (folder / f"{model}.json").write_text(json.dumps(data))
    return folder


class StatesLLM(ScriptedLLM):
    """A scripted model whose hidden states the test sets: the prompt's (sufficient: +4 or -4 on dimension 0) and
    every generated token's (right: +4 or -4 on dimension 1)."""

    name, states_unavailable, model_sha256 = "scripted-states", "", SHA

    def __init__(self, *replies, sufficient=True, right=True):
        super().__init__(*replies)
        self.sufficient, self.right, self.layers, self.generated = sufficient, right, (), 0

    def watch(self, layers):
        self.layers = tuple(layers)

    def stream(self, messages, max_tokens, info=None, gate=None):
        info = info if info is not None else Generation()
        state = np.zeros((len(self.layers), WIDTH), dtype=np.float32)
        state[:, 0] = 4.0 if self.sufficient else -4.0
        if info.capture:
            info.layers, info.states = self.layers, state
        if gate is not None and not gate(info):
            self.prompts.append(messages)
            info.finish = "gated"
            return
        for word in super().stream(messages, max_tokens, info):
            if not word:  # an empty reply: the model stopped at once, no token was generated
                continue
            token = np.zeros_like(state)
            token[:, 1] = 4.0 if self.right else -4.0
            if info.capture:
                info.token_states.append(token)
                info.tokens.append(word)
            self.generated += 1
            yield word
        info.finish = "stop"


@pytest.fixture
def probes_dir(tmp_path):
    return probe_file(tmp_path / "probes")


def engine_with(pipeline, llm, folder, **kw):
    probes = Probes.load(llm.name, llm.model_sha256, folder=probe_file(folder, **kw) if kw else folder)
    return Engine(pipeline, llm, state_judge=StateJudge(probes, probes.ladder))


# ---- the probe files -------------------------------------------------------------------------------------------------
def test_a_missing_probe_file_is_a_clear_error_and_the_engine_falls_back_to_the_rules(seeded_pipeline, tmp_path):
    with pytest.raises(ProbesUnavailable, match="no probes for model scripted-states .*train_probes"):
        Probes.load("scripted-states", SHA, folder=tmp_path)
    engine = Engine(seeded_pipeline, StatesLLM(BALLOON))  # no bundled probes for this model name
    answer = engine.ask(QUESTION)
    assert engine.state_judge is None and "no probes for model scripted-states" in engine.state_note
    assert answer.judge.source == "rules only" and "no probes for model" in answer.judge.public()["probes"]["unavailable"]


def test_probes_of_another_model_file_are_refused_by_sha256(probes_dir):
    with pytest.raises(ProbesUnavailable, match="belong to the model file with sha256 ababababab.*not this one"):
        Probes.load("scripted-states", "cd" * 32, folder=probes_dir)


def test_a_damaged_probe_file_says_what_is_wrong(tmp_path):
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(ProbesUnavailable, match="is not a probe file"):
        Probes.load("m", SHA, folder=tmp_path)
    data = json.loads((probe_file(tmp_path / "p") / "scripted-states.json").read_text())
    data["probes"]["sufficiency"]["direction"] = [1.0, 2.0]
    (tmp_path / "m.json").write_text(json.dumps(data))
    with pytest.raises(ProbesUnavailable, match="probe sufficiency has feature 'prompt_end' and 2 weights"):
        Probes.load("m", SHA, folder=tmp_path)


def test_a_model_without_probes_says_so(tmp_path):
    (tmp_path / "fast.json").write_text(json.dumps({"model": "fast", "probes": {}, "none": "its states were not tried"}))
    with pytest.raises(ProbesUnavailable, match="model fast has no probes: its states were not tried"):
        Probes.load("fast", SHA, folder=tmp_path)


def test_states_that_cannot_be_read_leave_the_rules_in_charge():
    judge, note = load_state_judge(ScriptedLLM())
    assert judge is None and note == "a scripted stand-in has no hidden states"
    assert load_state_judge(StatesLLM(), enabled=False) == (None, "switched off (RAG_PROBES=false)")


# ---- features ----------------------------------------------------------------------------------------------------------
def test_key_tokens_are_the_drafts_new_words_outside_citations():
    tokens = ["The", " port", " is", " 6", "55", " [", "1", "]."]
    assert key_token_positions(tokens, "Which port does it use?") == [3, 4]


def test_features_read_the_prompt_and_the_drafts_tokens():
    info = Generation(capture=True, layers=(3, 17), states=np.array([[1.0, 0.0], [2.0, 0.0]]),
                      token_states=[np.array([[0.0, 1.0], [0.0, 2.0]]), np.array([[0.0, 3.0], [0.0, 4.0]])],
                      tokens=[" Vienna", " [1]"])
    found = features(info, "Where was it held?")
    assert found["prompt_end"][17].tolist() == [2.0, 0.0]
    assert found["draft_last"][3].tolist() == [0.0, 3.0] and found["draft_mean"][17].tolist() == [0.0, 3.0]
    assert found["draft_keys"][3].tolist() == [0.0, 1.0]  # "Vienna" only, not the marker
    assert set(features(Generation(capture=True, layers=(3,), states=np.zeros((1, 2))), "q")) == {"prompt_end"}


def test_a_fitted_probe_folds_into_one_direction_that_matches_the_pipeline():
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from training.probe_fit import COMPONENTS, SEED, C, fit, scores

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 64)) * rng.uniform(0.5, 5, size=64)
    y = (X[:, :3].sum(axis=1) + rng.normal(size=300) > 0).astype(int)
    direction, bias = fit(X, y)
    reference = make_pipeline(StandardScaler(), PCA(COMPONENTS, random_state=SEED), LogisticRegression(C=C, max_iter=5000))
    assert np.allclose(scores(X, direction, bias), reference.fit(X, y).predict_proba(X)[:, 1], atol=1e-4)


# ---- the ladder ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("record", "rung"), [
    ({"pre_refused": True}, "evidence"),
    ({"sufficiency": 0.2, "correctness": 0.9}, "sufficiency probe"),
    ({"sufficiency": 0.9, "correctness": 0.9, "reasons": ["empty generation"]}, "rule"),
    ({"sufficiency": 0.9, "correctness": None, "reasons": ["no answer sentence"]}, "rule"),
    ({"sufficiency": 0.9, "correctness": 0.9, "reasons": ["a sentence stops where the answer should stand"]}, "answered"),
    ({"sufficiency": 0.9, "correctness": 0.9, "reasons": ["only 1/3 sentences supported"]}, "answered"),
    ({"sufficiency": 0.9, "correctness": 0.1}, "correctness probe"),
    ({"sufficiency": 0.9, "correctness": 0.9}, "answered"),
])
def test_each_rung_of_the_ladder(record, rung):
    assert decide(record, Ladder(0.5, 0.5, frozenset({"empty"}))).rung == rung


def test_the_engine_refuses_before_generating_when_the_passages_hold_no_answer(seeded_pipeline, probes_dir):
    llm = StatesLLM(BALLOON, sufficient=False)
    answer = engine_with(seeded_pipeline, llm, probes_dir).ask("What did Blinken eat at the state banquet?")
    assert answer.refused and answer.answer == REFUSAL and llm.generated == 0 and answer.draft == ""
    assert answer.evidence, "the closest passages are shown"
    assert answer.refusal_reason.startswith("the model's own reading finds no answer in these passages (sufficiency 0.02")
    probes = answer.record()["judge"]["probes"]
    assert probes["decided_by"] == "sufficiency probe" and probes["sufficiency"]["threshold"] == 0.5
    assert probes["correctness"]["score"] is None, "no draft, no correctness"
    assert answer.record()["judge"]["source"] == "hidden-state probes"
    assert "passages hold the answer 0.02 (&lt; 0.50)" in answer_message(answer, QUESTION, 0)


def test_the_engine_withholds_a_draft_the_correctness_probe_doubts(seeded_pipeline, probes_dir):
    answer = engine_with(seeded_pipeline, StatesLLM(BALLOON, right=False), probes_dir).ask(QUESTION)
    assert answer.refused and answer.answer == UNCONFIRMED and answer.draft == BALLOON and answer.evidence
    assert answer.refusal_reason == "the model's answer could not be confirmed (correctness 0.02 < 0.50)"
    judge = answer.record()["judge"]
    assert judge["probes"]["decided_by"] == "correctness probe" and judge["probes"]["sufficiency"]["score"] == 0.982
    assert judge["rules_decision"] == "answer", "the rules alone would have shown it"
    message = answer_message(answer, QUESTION, 0)
    assert f"<strong>{escape(UNCONFIRMED)}</strong>" in message and "The documents don" not in message
    assert "passages hold the answer 0.98 (≥ 0.50) · answer confirmed 0.02 (&lt; 0.50)" in message
    assert "Decided by: correctness probe" in message


def test_the_engine_answers_when_both_probes_agree_even_where_a_dropped_rule_doubts(seeded_pipeline, probes_dir):
    unsupported = "The trip was called off because of a storm over Beijing that week [1]."
    answer = engine_with(seeded_pipeline, StatesLLM(unsupported), probes_dir).ask(QUESTION)
    assert not answer.refused and answer.answer.startswith("The trip was called off because of a storm")
    judge = answer.record()["judge"]
    assert judge["decision"] == "answer" and judge["rules_decision"] == "refuse"
    assert judge["probes"]["decided_by"] == "answered" and judge["probes"]["rules_kept"] == ["empty"]


def test_a_kept_word_rule_still_refuses(seeded_pipeline, tmp_path):
    dangling = "The trip was called off after the balloon was spotted, as was said in [1]."
    answer = engine_with(seeded_pipeline, StatesLLM(dangling), tmp_path / "p", rules=("dangling",)).ask(QUESTION)
    assert answer.refused and answer.refusal_reason.startswith("a sentence stops where the answer should stand")
    assert answer.record()["judge"]["probes"]["decided_by"] == "rule"


def test_an_empty_draft_is_never_shown_whatever_the_rules_kept(seeded_pipeline, tmp_path):
    answer = engine_with(seeded_pipeline, StatesLLM(""), tmp_path / "p", rules=()).ask(QUESTION)
    assert answer.refused and answer.refusal_reason.startswith("empty generation")
    assert answer.record()["judge"]["probes"]["correctness"]["score"] is None
