"""A bundled GGUF run in-process by llama.cpp, with greedy decoding written here so that each token's log-probability
and a yes/no probe on the answer prompt's own prefix come at no extra prompt cost.

Example: backend = LlamaCppBackend(path, "default", n_ctx=4096, n_threads=2)
         info = Generation(); "".join(backend.stream(messages, 64, info)) -> "Vienna [1]."; info.logprobs -> [-0.01, ...]
         backend.yes_probability(messages_with_a_yes_no_question) -> 0.93   (only the new suffix is evaluated)
Written on llama-cpp-python directly rather than llama-index's LlamaCPP wrapper: we need the model's own tokenizer
(budget guard), one long-lived Llama whose KV cache keeps every shared prefix, and the logits of each step.
"""

from __future__ import annotations

import codecs
import threading
from collections.abc import Iterator

import numpy as np

from rag.errors import BackendUnavailableError
from rag.generate.backend import Generation

# The bundled models are Qwen2.5 (ChatML). Markers are tokenized as special tokens, message text never is: a
# document containing "<|im_end|>" stays text and cannot end the passages early.
_OPEN, _CLOSE = "<|im_start|>", "<|im_end|>"
YES_WORDS, NO_WORDS = ("yes", "Yes", " yes", " Yes", "YES"), ("no", "No", " no", " No", "NO")


class LlamaCppBackend:
    def __init__(self, model_path: str, name: str, n_ctx: int, n_threads: int, small_model: bool = False):
        from llama_cpp import Llama

        self.name = name
        self.context_window = n_ctx
        self.small_model = small_model
        self.logits = "in-process"  # what yes_probability and token log-probabilities come from (Answer.judge)
        try:
            self.llm = Llama(model_path=model_path, n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                             n_batch=512, seed=0, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise BackendUnavailableError(f"Cannot load model {model_path} ({exc}); run `python -m rag models`") from None
        self._lock = threading.Lock()  # one evaluation at a time: the KV cache is shared state
        self._stops = {self.llm.token_eos(), *self._special(_CLOSE)}
        self._yes = self._first_tokens(YES_WORDS)
        self._no = self._first_tokens(NO_WORDS)

    def _special(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def _text(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def _first_tokens(self, words: tuple[str, ...]) -> list[int]:
        return sorted({self._text(word)[0] for word in words})

    def prompt_tokens(self, messages: list[dict], reply: str | None = None) -> list[int]:
        """The ChatML tokens of messages, ending with an open assistant turn (holding `reply` when given)."""
        tokens: list[int] = []
        for message in messages:
            tokens += self._special(f"{_OPEN}{message['role']}\n") + self._text(message["content"])
            tokens += self._special(f"{_CLOSE}\n")
        tokens += self._special(f"{_OPEN}assistant\n")
        return tokens + (self._text(reply) if reply else [])

    def count_tokens(self, messages: list[dict]) -> int:
        return len(self.prompt_tokens(messages))

    def _evaluate(self, tokens: list[int], info: Generation | None = None) -> np.ndarray:
        """Bring the context to exactly `tokens`, evaluating only what differs from what it holds; return the logits
        that follow the last token (and count the evaluated tokens in info)."""
        import llama_cpp

        held = self.llm.n_tokens
        shared = 0
        for a, b in zip(self.llm.input_ids[:held], tokens):
            if a != b:
                break
            shared += 1
        shared = min(shared, len(tokens) - 1)  # the last token is evaluated again to have its logits
        self.llm.n_tokens = shared
        if info is not None:
            info.new_prompt_tokens = len(tokens) - shared
        self.llm.eval(tokens[shared:])
        pointer = llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(self.llm.n_vocab(),)).copy()

    def stream(self, messages: list[dict], max_tokens: int, info: Generation | None = None) -> Iterator[str]:
        """Greedy decoding, one text delta at a time; info (if given) receives each token's log-probability."""
        info = info if info is not None else Generation()
        with self._lock:
            tokens = self.prompt_tokens(messages)
            if len(tokens) + max_tokens > self.context_window:
                max_tokens = max(0, self.context_window - len(tokens))
            info.prompt_tokens = len(tokens)
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            logits = self._evaluate(tokens, info)
            for _ in range(max_tokens):
                token = int(np.argmax(logits))
                if token in self._stops:
                    info.finish = "stop"
                    return
                info.logprobs.append(float(logits[token] - _logsumexp(logits)))
                delta = decoder.decode(self.llm.detokenize([token]))
                if delta:
                    yield delta
                logits = self._evaluate(tokens := tokens + [token])
            info.finish = "length"

    def yes_probability(self, messages: list[dict], reply: str | None = None) -> float | None:
        """P(yes) / (P(yes) + P(no)) for the model's first word after messages (+ the start of its reply); the
        question asking for yes or no is the caller's. Shares the KV cache of any prefix evaluated before."""
        with self._lock:
            logits = self._evaluate(self.prompt_tokens(messages, reply))
        probabilities = np.exp(logits - _logsumexp(logits))
        yes, no = float(probabilities[self._yes].sum()), float(probabilities[self._no].sum())
        return yes / (yes + no) if yes + no > 0 else None


def _logsumexp(logits: np.ndarray) -> float:
    top = float(logits.max())
    return top + float(np.log(np.exp(logits - top).sum()))
