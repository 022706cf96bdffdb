"""The in-process llama.cpp backend with the real fast model: its ChatML matches the model's own template, every
shared prefix stays in the KV cache (a prompt that changes its fixed part silently pays for those tokens again), and
the tokenizer alone counts as the model does."""

from __future__ import annotations

import pytest

from rag.generate.backend import Generation
from rag.generate.prompts import Passage, answer_messages

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


def test_the_second_look_costs_only_the_passages_it_adds(fast_llm, evaluated):
    from rag.answer.looks import prompt
    from rag.search.evidence import Evidence

    first = Evidence("relay.txt", "The relay listens on port 7411 unless --port is given.", 0, 55, 0.9, title="Relay")
    added = Evidence("relay.txt", "Logs are kept for 14 days in /var/log/relay.", 60, 105, 0.5, title="Relay")
    question = "How long are the relay's logs kept?"
    list(fast_llm.stream(prompt(question, [first]), 4))
    evaluated.clear()
    second = prompt(question, [first, added])
    list(fast_llm.stream(second, 4))
    before, after = fast_llm.prompt_tokens(prompt(question, [first])), fast_llm.prompt_tokens(second)
    shared = next((i for i, (a, b) in enumerate(zip(before, after)) if a != b), min(len(before), len(after)))
    read = fast_llm.llm.detokenize(before[:shared]).decode("utf-8", "replace")
    assert first.text.rstrip(".") in read, "the second look's prompt begins with the first look's passages"
    assert evaluated[0] <= len(after) - shared + 1, "the first look's passages were evaluated again"


def test_the_tokenizer_alone_counts_a_prompt_as_the_loaded_model_does(fast_llm):
    from rag.config import load_settings
    from rag.generate.load import token_counter

    messages = answer_messages("Which port does the relay listen on?", PASSAGES)
    assert token_counter(load_settings(model="fast"))(messages) == fast_llm.count_tokens(messages)
