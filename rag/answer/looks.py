"""The looks: ranked passages cut into the prompts the model reads. The first look holds the best passages within the
evidence budget; the second, read only when the first does not seem to hold the answer, adds the next-best ones
after them, so the model reads both and only the added passages are new tokens (the rest is in its KV cache).

Example: fit_looks("Which port does tinc use?", ranked, backend.count_tokens, budgets=(240, 240), window=3824)
  -> [Look(messages=[system, "Question: ... [1] ... [3] ..."], passages=[E1, E2, E3], added=3, tokens=301),
      Look(messages=[system, "Question: ... [1] ... [5] ..."], passages=[E1, E2, E3, E4, E5], added=2, tokens=548)]
A look adds the best remaining passages (in the order given) whose prompt tokens, headers included, stay within its
budget beyond what the look before it held: the first passage always (if the context window allows), then each
next one that fits; one that does not fit waits for the next look, where it comes first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.errors import BadInputError
from rag.generate.prompts import Passage, answer_messages
from rag.search.evidence import Evidence


@dataclass(frozen=True)
class Look:
    messages: list[dict]
    passages: list[Evidence]  # every passage the prompt shows, numbered from 1 in this order
    added: int  # how many of them this look added (the last ones)
    tokens: int  # the prompt's tokens, system prompt included

    @property
    def new(self) -> list[Evidence]:
        return self.passages[len(self.passages) - self.added:]


def prompt(question: str, passages: Sequence[Evidence], small_model: bool = False) -> list[dict]:
    """The answer prompt over these passages, numbered from 1 in the order given."""
    return answer_messages(question, [Passage(e.header(), e.text) for e in passages], small_model)


def fit_looks(question: str, ranked: Sequence[Evidence], count_tokens: Callable[[list[dict]], int],
              budgets: Sequence[int], window: int, small_model: bool = False, k: int = 5) -> list[Look]:
    """A prompt per budget (tokens of passages it adds), each adding at most k passages (see the module docstring);
    fewer when the passages run out. window: the prompt tokens the model's context leaves for the prompt; a question
    too long for it is bad input."""
    bare = count_tokens(prompt(question, [], small_model))
    if bare > window:
        raise BadInputError(f"The question alone needs {bare} tokens, more than the model's window allows; shorten it")
    remaining, found, shown, base = list(ranked), [], [], bare
    for budget in budgets:
        if not remaining:
            break
        added, messages, tokens, waiting = 0, None, base, []
        for item in remaining:
            trial = prompt(question, [*shown, item], small_model)
            size = count_tokens(trial) if added < k else window + 1
            if size > window or (added and size - base > budget):
                waiting.append(item)
                continue
            shown, added, messages, tokens = [*shown, item], added + 1, trial, size
        if not added:
            break  # not even one more passage fits the context window
        found.append(Look(messages, list(shown), added, tokens))
        remaining, base = waiting, tokens
    return found
