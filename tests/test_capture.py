"""The hidden-state capture with the real fast model: the C callback built against llama-cpp-python's own library
keeps the residual stream of the watched layers, at the prompt's last token and at each generated token."""

from __future__ import annotations

import numpy as np
import pytest

from rag.answer.decide import Decider
from rag.generate.backend import Generation
from rag.generate.capture import CaptureUnavailable, build_library
from rag.generate.prompts import Passage, answer_messages

pytestmark = pytest.mark.llm

PASSAGES = [Passage("Relay manual > Network", "The relay listens on port 7411 unless --port is given.")]
ASKED = answer_messages("Which port does the relay listen on?", PASSAGES)
OTHER = answer_messages("Who wrote the relay's manual, and when?", PASSAGES)


@pytest.fixture
def watching(fast_llm):
    """The shared fast model watching layers 8 and 12 for this test, then what it watched before."""
    before = fast_llm.capture.layers
    fast_llm.watch((8, 12))
    yield fast_llm
    fast_llm.watch(before)


def answer(llm, messages, tokens=8, fresh=False, gate=None):
    if fresh:
        llm.llm.n_tokens = 0  # forget the KV cache: the whole prompt is evaluated again
    info = Generation(capture=True)
    text = "".join(llm.stream(messages, tokens, info, gate))
    return info, text


def cosine(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_the_prompt_state_changes_with_the_prompt_and_matches_a_second_evaluation(watching):
    first, _ = answer(watching, ASKED, fresh=True)
    assert first.layers == (8, 12) and first.states.shape == (2, watching.llm.n_embd())
    assert np.all(np.isfinite(first.states)) and np.linalg.norm(first.states[1]) > 1.0
    again, _ = answer(watching, ASKED, fresh=True)
    assert np.allclose(first.states, again.states, atol=1e-4), "the same evaluation gives the same state"
    cached, _ = answer(watching, ASKED)  # only the last token is evaluated again, alone: other kernels, same state
    assert min(cosine(a, b) for a, b in zip(first.states, cached.states)) > 0.999
    other, _ = answer(watching, OTHER, fresh=True)
    # a large component is shared by every prompt's last token (the open assistant turn): compare the differences
    for layer, state in enumerate(first.states):
        moved = np.linalg.norm(state - other.states[layer])
        assert moved > 3 * np.linalg.norm(state - cached.states[layer]) and moved > 0.01 * np.linalg.norm(state)


def test_each_generated_token_has_its_state(watching):
    info, text = answer(watching, ASKED, tokens=12, fresh=True)
    assert text and len(info.token_states) == len(info.tokens) == len(info.logprobs) > 0
    assert "".join(info.tokens).strip() == text.strip()
    assert all(s.shape == info.states.shape for s in info.token_states)
    assert cosine(info.token_states[0][1], info.states[1]) < 0.999, "a new token, a new state"


def test_a_gate_that_says_no_stops_before_the_first_token(watching):
    seen = []
    info, text = answer(watching, ASKED, fresh=True, gate=lambda i: seen.append(i.states.copy()) or False)
    assert text == "" and info.finish == "gated" and info.logprobs == [] and len(seen) == 1
    assert np.array_equal(seen[0], info.states)


def test_a_generation_that_does_not_ask_gets_no_states(watching):
    info = Generation()
    assert "".join(watching.stream(ASKED, 4, info)) and info.states is None and info.token_states == []


def test_without_a_compiler_there_is_no_capture_and_the_rules_decide(tmp_path, monkeypatch):
    from rag.config import load_settings
    from rag.generate.llama_backend import LlamaCppBackend
    from rag.generate.models import gguf_path

    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    with pytest.raises(CaptureUnavailable, match="building the hidden-state capture failed"):
        build_library(tmp_path)
    path = gguf_path("fast", load_settings().cache_dir)
    llm = LlamaCppBackend(str(path), "fast", 512, 1, small_model=True, cache_dir=tmp_path)
    assert llm.capture is None and "building the hidden-state capture failed" in llm.states_unavailable
    assert Decider.load(llm).fallback == f"the model's states cannot be read: {llm.states_unavailable}"
