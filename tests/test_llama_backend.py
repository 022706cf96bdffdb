"""The in-process llama.cpp backend with the real fast model: its ChatML matches the model's own template, and every
shared prefix stays in the KV cache (a prompt that changes its fixed part silently pays for those tokens again)."""

from __future__ import annotations

import pytest

from rag.generate.backend import Generation
from rag.generate.prompts import Passage, answer_messages, sufficiency_messages

pytestmark = pytest.mark.llm

PASSAGES = [Passage("Relay manual > Network", "The relay listens on port 7411 unless --port is given.")]


@pytest.fixture
def evaluated(fast_llm, monkeypatch):
    """The number of tokens each llama.cpp evaluation call is given, from here on."""
    counts: list[int] = []
    real = fast_llm.llm.eval
    monkeypatch.setattr(fast_llm.llm, "eval", lambda tokens: (counts.append(len(tokens)), real(tokens))[1])
    return counts


def test_greedy_stream_matches_the_models_own_chat_template(fast_llm):
    messages = answer_messages("Which port does the relay listen on?", PASSAGES)
    own = fast_llm.llm.create_chat_completion(messages=messages, temperature=0.0, top_k=1, max_tokens=24, seed=0)
    info = Generation()
    ours = "".join(fast_llm.stream(messages, 24, info))
    assert ours.strip() == own["choices"][0]["message"]["content"].strip()
    assert len(info.logprobs) > 0 and all(lp <= 0 for lp in info.logprobs) and info.finish in ("stop", "length")


def test_the_fixed_system_prompt_is_evaluated_once_across_questions(fast_llm, evaluated):
    first = answer_messages("Which port does the relay listen on?", PASSAGES)
    second = answer_messages("What does --port change?", PASSAGES)
    list(fast_llm.stream(first, 4))
    evaluated.clear()
    list(fast_llm.stream(second, 4))
    system = len(fast_llm.prompt_tokens(second[:1])) - len(fast_llm.prompt_tokens([]))  # the system message's tokens
    assert evaluated[0] <= len(fast_llm.prompt_tokens(second)) - system, "the system prompt was evaluated again"


def test_the_judges_question_costs_only_its_own_tokens(fast_llm, evaluated):
    messages = answer_messages("Which port does the relay listen on?", PASSAGES)
    list(fast_llm.stream(messages, 16))
    evaluated.clear()
    probability = fast_llm.yes_probability(sufficiency_messages(messages))
    probe = len(fast_llm.prompt_tokens(sufficiency_messages(messages))) - len(fast_llm.prompt_tokens(messages))
    assert sum(evaluated) <= probe + 8  # the probe's words and the turn's markers; not the passages again
    assert 0.0 <= probability <= 1.0
