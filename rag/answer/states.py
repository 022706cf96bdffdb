"""What the generator's hidden states give the decision: per layer, the state at the prompt's last token (the open
assistant turn, before a word is written) and, over the draft, its last token, the mean of its tokens and the mean of
its key words' tokens (rag/generate/capture.py reads them while llama.cpp evaluates).

Example: key_token_positions(["The", " port", " is", " 655", " [", "1", "]."], "Which port?") -> [3]
         features(generation, "Which port?") -> {"prompt_end": {17: array(1536), 20: ...}, "draft_keys": {...}, ...}
"""

from __future__ import annotations

import re

import numpy as np

from rag.text import content_words

FEATURES = ("prompt_end", "draft_last", "draft_mean", "draft_keys")
_MARKER = re.compile(r"\[[^\]]*\]")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def key_token_positions(tokens: list[str], question: str) -> list[int]:
    """The generated tokens that spell the draft's key words: its content words the question does not have (names,
    numbers, terms), outside citation markers."""
    text, starts = "", []
    for token in tokens:
        starts.append(len(text))
        text += token
    asked = content_words(question)
    hidden = {i for m in _MARKER.finditer(text) for i in range(m.start(), m.end())}
    keys: set[int] = set()
    for word in _WORD.finditer(text):
        if word.start() in hidden or not (content_words(word.group()) - asked):
            continue
        keys.update(range(word.start(), word.end()))
    return [n for n, (start, token) in enumerate(zip(starts, tokens))
            if any(start <= c < start + len(token) for c in keys)]


def features(generation, question: str) -> dict[str, dict[int, np.ndarray]]:
    """feature -> layer -> state, from a Generation made with capture=True: the prompt's last token, then over the
    draft's tokens (absent when nothing was generated)."""
    layers = generation.layers
    stacks = {"prompt_end": np.asarray(generation.states, dtype=np.float32)}
    if generation.token_states:
        stacked = np.stack([np.asarray(s, dtype=np.float32) for s in generation.token_states])
        keys = [n for n in key_token_positions(generation.tokens, question) if n < len(stacked)]
        stacks |= {"draft_last": stacked[-1], "draft_mean": stacked.mean(axis=0),
                   "draft_keys": stacked[keys].mean(axis=0) if keys else stacked.mean(axis=0)}
    return {name: dict(zip(layers, rows)) for name, rows in stacks.items()}
