"""A scripted stand-in for the language model, for tests of everything around it (parsing, verification, refusal,
faults, bad input, the window's wiring). Claims about answer quality are made with the real bundled model instead."""

from __future__ import annotations

import threading


def passage_number(messages: list[dict], phrase: str) -> int:
    """The number the prompt gives the passage containing phrase ("[3] ... weather balloon ..." -> 3)."""
    for line in messages[-1]["content"].splitlines():
        if line.startswith("[") and phrase in line:
            return int(line[1:line.index("]")])
    raise AssertionError(f"no passage holds {phrase!r}")


class ScriptedLLM:
    """Replies with the given text, in small pieces, whatever it is asked; records the prompts it saw."""

    name = "scripted"
    small_model = False
    logits = "none"  # a stand-in has no probabilities: the judge falls back to its rules
    states_unavailable = "a scripted stand-in has no hidden states"
    model_sha256 = None

    def __init__(self, *replies: str, context_window: int = 4096):
        self.replies = list(replies)
        self.context_window = context_window
        self.prompts: list[list[dict]] = []

    def count_tokens(self, messages):
        return sum(len(m["content"].split()) + 6 for m in messages)

    def watch(self, layers):
        from rag.generate.capture import CaptureUnavailable

        raise CaptureUnavailable(self.states_unavailable)

    def stream(self, messages, max_tokens, info=None, gate=None):
        self.prompts.append(messages)
        reply = self.replies.pop(0) if self.replies else ""
        reply = reply(messages) if callable(reply) else reply  # a reply may depend on the prompt (passage numbers)
        words = reply.split(" ")[:max_tokens]
        for i, word in enumerate(words):
            yield word if i == 0 else " " + word


class GatedLLM(ScriptedLLM):
    """A ScriptedLLM that holds each answer at its first token until the test opens the gate: the answer holding the
    window's slot stays there as long as the test needs, without sleeping for a guessed time. `entered` is set once
    an answer has reached the model."""

    def __init__(self, reply: str, timeout: float = 120.0):
        super().__init__()
        self.reply, self.timeout = reply, timeout
        self.gate, self.entered = threading.Event(), threading.Event()
        self.gate.set()

    def stream(self, messages, max_tokens, info=None, gate=None):
        self.replies = [self.reply]
        self.entered.set()
        if not self.gate.wait(self.timeout):
            raise AssertionError(f"the gate stayed shut for {self.timeout} s")
        yield from super().stream(messages, max_tokens, info, gate)


class StatedLLM(ScriptedLLM):
    """A ScriptedLLM whose hidden states can be read: at a prompt's end, a state whose first number is 1.0 when the
    prompt holds `holds` (-1.0 otherwise), and at each written token one whose first number is `draft_state`. It asks
    the gate once the prompt is read, as the real backend does, and records every prompt it read (gated or not)."""

    states_unavailable = ""
    model_sha256 = "stated-llm"
    WIDTH = 4

    def __init__(self, *replies, holds: str, draft_state: float = 1.0, **kwargs):
        super().__init__(*replies, **kwargs)
        self.holds, self.draft_state, self.layers = holds, draft_state, ()

    def watch(self, layers):
        self.layers = tuple(layers)

    def _state(self, first: float):
        import numpy as np

        return np.array([[first] + [0.0] * (self.WIDTH - 1)] * len(self.layers), dtype=np.float32)

    def stream(self, messages, max_tokens, info=None, gate=None):
        self.prompts.append(messages)
        if info is not None and info.capture:
            info.layers, info.states = self.layers, self._state(1.0 if self.holds in messages[-1]["content"] else -1.0)
        if gate is not None and not gate(info):
            info.finish = "gated"
            return
        reply = self.replies.pop(0) if self.replies else ""
        reply = reply(messages) if callable(reply) else reply
        for i, word in enumerate(reply.split(" ")[:max_tokens]):
            piece = word if i == 0 else " " + word
            if info is not None:
                info.tokens.append(piece)
                info.logprobs.append(-0.1)
                if info.capture:
                    info.token_states.append(self._state(self.draft_state)[:, :])
            yield piece
        if info is not None:
            info.finish = "stop"
