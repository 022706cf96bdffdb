"""Follow-up questions made standalone with the chat history, so retrieval sees who "he" and "that trip" are.

Example: standalone_question(llm, "When did he arrive?",
                             [{"role": "user", "content": "Who visited Beijing in June 2023?"},
                              {"role": "assistant", "content": "Antony Blinken [1]."}])
  -> "When did Antony Blinken arrive in Beijing?"
"""

from __future__ import annotations

import re

from rag.prompts import rewrite_messages
from rag.text import content_words

HISTORY_TURNS = 4  # the last two exchanges are enough to resolve references and keep the prompt short
TURN_CHARS = 300
_MARKERS = re.compile(r"\s*\[\d+\]")
_LABEL = re.compile(r"^(rewritten question|question|standalone question)\s*:\s*", re.I)


def recent_history(history: list[dict]) -> list[dict]:
    """The last few turns, each shortened and stripped of citation markers."""
    turns = [t for t in history if t.get("role") in ("user", "assistant") and str(t.get("content", "")).strip()]
    return [{"role": t["role"], "content": _MARKERS.sub("", str(t["content"]))[:TURN_CHARS]}
            for t in turns[-HISTORY_TURNS:]]


def standalone_question(llm, question: str, history: list[dict]) -> str:
    """The question rewritten to stand alone; the question itself when there is no history."""
    turns = recent_history(history)
    if not turns:
        return question
    reply = "".join(llm.stream(rewrite_messages(question, turns), max_tokens=64)).strip()
    line = _LABEL.sub("", reply.splitlines()[0] if reply else "").strip().strip('"').strip()
    if len(line) < 3 or len(line) > 3 * len(question) + 200 or not content_words(line) - content_words(question):
        # A failed rewrite (empty, runaway, or adding no word to the question) is replaced by the plain join
        # (docs/decisions.md, "Follow-up rewriting").
        earlier = [t["content"] for t in turns if t["role"] == "user"]
        return f"{earlier[-1]} {question}" if earlier else question
    return line
