"""Follow-up questions made standalone with the chat history, so retrieval sees who "he" and "that trip" are; a
question that already stands alone is left exactly as asked.

Example: standalone_question(llm, "When did he arrive?",
                             [{"role": "user", "content": "Who visited Beijing in June 2023?"},
                              {"role": "assistant", "content": "Antony Blinken [1]."}])
  -> Standalone(question="When did Antony Blinken arrive in Beijing?", search=<the same>, rewritten=True, ...)
         standalone_question(llm, "How many people used Threads on its first day?", <the same history>)
  -> Standalone(question=<as asked>, rewritten=False, reason="stands alone")   # the model is not asked at all
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.generate.prompts import rewrite_messages
from rag.text import content_words

HISTORY_TURNS = 4  # the last two exchanges are enough to resolve references and keep the prompt short
TURN_CHARS = 300
REWRITE_TOKENS = 64
_MARKERS = re.compile(r"\s*\[\d+\]")
_LABEL = re.compile(r"^(rewritten question|question|standalone question)\s*:\s*", re.I)
_TOKEN = re.compile(r"[A-Za-z][A-Za-z.'’-]*|\d+")
# words that point outside the question: who "he" is, which trip "that trip" is, what "the second" is second of
_PRONOUNS = frozenset("he him his she her hers they them their theirs it its".split())
_OPENERS = ("and ", "so ", "but ", "also ", "what about", "how about", "then ", "or ")
_RELATIVE = re.compile(r"\b(the (?:first|second|third|fourth|last|other|same|former|latter|previous|next|one|ones)"
                       r"|(?:\w+ (?:days?|weeks?|months?|years?)) (?:later|earlier|before|after)|before that|after that"
                       r"|instead|as well|too|either|the rest)\b", re.I)
_AUXILIARIES = frozenset("is are was were did do does has have had will would can could should".split())


@dataclass(frozen=True)
class Standalone:
    question: str  # what the answer prompt asks: the rewrite, or the question as asked
    search: str  # what retrieval searches for: the same, or the question after the last user turn if a rewrite failed
    rewritten: bool
    reason: str  # why: "no history", "stands alone", "rewritten: <what it depended on>", "rewrite failed: ..."


def recent_history(history: list[dict]) -> list[dict]:
    """The last few turns, each shortened and stripped of citation markers."""
    turns = [t for t in history if t.get("role") in ("user", "assistant") and str(t.get("content", "")).strip()]
    return [{"role": t["role"], "content": _MARKERS.sub("", str(t["content"]))[:TURN_CHARS]}
            for t in turns[-HISTORY_TURNS:]]


def _names(tokens: list[str]) -> list[int]:
    """Positions of tokens that name something: capitalised or all-caps words not at the start, and numbers."""
    return [i for i, token in enumerate(tokens)
            if token.isdigit() or (i > 0 and token[0].isupper() and token.lower() not in _PRONOUNS | {"i"})]


def depends_on_history(question: str, turns: list[dict]) -> str | None:
    """What in the question needs the conversation to be understood, or None when it stands alone.

    Example: depends_on_history("How long did those talks last?", turns about talks in Vienna) -> "'those talks'"
             depends_on_history("How many times has Lloyd Austin visited India, counting his June trip?", ...) -> None
    """
    text = question.strip()
    lowered = text.lower()
    tokens = _TOKEN.findall(text)
    if not tokens:
        return None
    words = [t.lower() for t in tokens]
    names = _names(tokens)
    if lowered.startswith(_OPENERS) or len(words) <= 2:
        return f"'{' '.join(tokens[:2])}' continues the conversation"
    if relative := _RELATIVE.search(text):
        return f"'{relative.group(0)}' refers back"
    if not names and len(content_words(text)) <= 2:
        return "names nothing and asks little: it continues the conversation"  # "Which teams were playing?"
    earlier = set().union(*(content_words(t["content"]) for t in turns)) if turns else set()
    for i, word in enumerate(words):
        if word in _PRONOUNS and not any(n < i for n in names):  # "his" after "Lloyd Austin" is the question's own
            return f"'{tokens[i]}'"
        if word in ("these", "those"):
            return f"'{tokens[i]}'"
        if word in ("this", "that"):  # "why was that?", "that trip", "that is"; not "warned that engaging in ..."
            following = words[i + 1] if i + 1 < len(words) else ""
            if not following or following in _AUXILIARIES or content_words(following) & earlier:
                return f"'{' '.join(tokens[i:i + 2])}'"
        if word == "the" and not names and i + 1 < len(words) and content_words(words[i + 1]) & earlier:
            return f"'the {tokens[i + 1]}' was in the conversation"  # "Where was the game held?"
    return None


def standalone_question(llm, question: str, history: list[dict]) -> Standalone:
    """The question made to stand alone. Only a question that depends on the conversation is rewritten (one short
    model call); a rewrite that fails (empty, runaway, or resolving nothing) leaves the question as asked for the
    answer, and retrieval then searches it after the previous user turn."""
    turns = recent_history(history)
    if not turns:
        return Standalone(question, question, False, "no history")
    needs = depends_on_history(question, turns)
    if needs is None:
        return Standalone(question, question, False, "stands alone")
    reply = "".join(llm.stream(rewrite_messages(question, turns), max_tokens=REWRITE_TOKENS)).strip()
    line = _LABEL.sub("", reply.splitlines()[0] if reply else "").strip().strip('"').strip()
    earlier = [t["content"] for t in turns if t["role"] == "user"]
    joined = f"{earlier[-1]} {question}" if earlier else question
    if len(line) < 3:
        return Standalone(question, joined, False, f"rewrite failed: empty (needed for {needs})")
    if len(line) > 3 * len(question) + 200:
        return Standalone(question, joined, False, f"rewrite failed: runaway (needed for {needs})")
    if not content_words(line) - content_words(question):
        return Standalone(question, joined, False, f"rewrite failed: it added nothing (needed for {needs})")
    own = content_words(question)
    if line.count("?") > 1 or len(own & content_words(line)) * 2 < len(own):
        # two questions glued together, or the earlier question asked again in place of this one
        return Standalone(question, joined, False, f"rewrite failed: it is not this question (needed for {needs})")
    return Standalone(line, line, True, f"rewritten: {needs}")
