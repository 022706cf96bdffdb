"""A scripted stand-in for the language model, for tests of everything around it (parsing, verification, refusal,
faults, bad input, the window's wiring). Claims about answer quality are made with the real bundled model instead."""

from __future__ import annotations


class ScriptedLLM:
    """Replies with the given text, in small pieces, whatever it is asked; records the prompts it saw."""

    name = "scripted"
    small_model = False

    def __init__(self, *replies: str, context_window: int = 4096):
        self.replies = list(replies)
        self.context_window = context_window
        self.prompts: list[list[dict]] = []

    def count_tokens(self, messages):
        return sum(len(m["content"].split()) + 6 for m in messages)

    def stream(self, messages, max_tokens):
        self.prompts.append(messages)
        reply = self.replies.pop(0) if self.replies else ""
        words = reply.split(" ")[:max_tokens]
        for i, word in enumerate(words):
            yield word if i == 0 else " " + word
