"""A bundled GGUF run in-process by llama.cpp, with greedy decoding written here so that each token's log-probability
and the hidden states the decision reads come at no extra prompt cost.

Example: backend = LlamaCppBackend(path, "default", n_ctx=4096, n_threads=2)
         info = Generation(); "".join(backend.stream(messages, 64, info)) -> "Vienna [1]."; info.logprobs -> [-0.01, ...]
         backend.watch((17,)); info = Generation(capture=True); "".join(backend.stream(messages, 64, info))
           -> info.states: layer 17 at the prompt's last token; info.token_states: one per generated token
Written on llama-cpp-python directly rather than llama-index's LlamaCPP wrapper: we need the model's own tokenizer
(budget guard), one long-lived Llama whose KV cache keeps every shared prefix, and the logits of each step.
"""

from __future__ import annotations

import codecs
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from rag.errors import BackendUnavailableError
from rag.generate.backend import Gate, Generation
from rag.generate.capture import Capture, CaptureUnavailable

# The bundled models are Qwen2.5 (ChatML). Markers are tokenized as special tokens, message text never is: a
# document containing "<|im_end|>" stays text and cannot end the passages early.
_OPEN, _CLOSE = "<|im_start|>", "<|im_end|>"


class ChatTokens:
    """The ChatML tokens of chat messages by a bundled model's own tokenizer: a loaded model's, or (of_file) its
    vocabulary alone, for counting a prompt without loading the weights.

    Example: ChatTokens.of_file(path).count([{"role": "user", "content": "Hi"}]) -> 9"""

    def __init__(self, llm):
        self.llm = llm

    @classmethod
    def of_file(cls, model_path: str) -> ChatTokens:
        from llama_cpp import Llama

        try:
            return cls(Llama(model_path=model_path, vocab_only=True, verbose=False))
        except (ValueError, RuntimeError) as exc:
            raise BackendUnavailableError(f"Cannot read the tokenizer of {model_path} ({exc}); run `python -m rag "
                                          "models`") from None

    def special(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def text(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def prompt(self, messages: list[dict]) -> list[int]:
        """The messages' tokens, ending with an open assistant turn."""
        tokens: list[int] = []
        for message in messages:
            tokens += self.special(f"{_OPEN}{message['role']}\n") + self.text(message["content"])
            tokens += self.special(f"{_CLOSE}\n")
        return tokens + self.special(f"{_OPEN}assistant\n")

    def count(self, messages: list[dict]) -> int:
        return len(self.prompt(messages))


class LlamaCppBackend:
    def __init__(self, model_path: str, name: str, n_ctx: int, n_threads: int, small_model: bool = False,
                 cache_dir: Path | None = None, model_sha256: str | None = None):
        """cache_dir: where the hidden-state capture is built (None: no capture, probes off)."""
        from llama_cpp import Llama

        self.name = name
        self.context_window = n_ctx
        self.small_model = small_model
        self.logits = "in-process"  # where token log-probabilities come from
        self.model_sha256 = model_sha256
        self.capture: Capture | None = None
        self.states_unavailable = "no capture was asked for"
        if cache_dir is not None:
            try:
                self.capture, self.states_unavailable = Capture.build(cache_dir), ""
            except CaptureUnavailable as exc:
                self.states_unavailable = str(exc)
        try:
            with self.capture.installed() if self.capture else contextlib.nullcontext():
                self.llm = Llama(model_path=model_path, n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                                 n_batch=512, seed=0, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise BackendUnavailableError(f"Cannot load model {model_path} ({exc}); run `python -m rag models`") from None
        self._lock = threading.Lock()  # one evaluation at a time: the KV cache is shared state
        self.tokens = ChatTokens(self.llm)
        self._stops = {self.llm.token_eos(), *self.tokens.special(_CLOSE)}

    def watch(self, layers: tuple[int, ...]) -> None:
        """Keep these layers' states when a Generation asks for them (capture=True); () keeps none."""
        if self.capture is None:
            raise CaptureUnavailable(f"the hidden states of {self.name} cannot be read: {self.states_unavailable}")
        with self._lock:
            self.capture.configure(tuple(layers), self.llm.n_embd())

    def prompt_tokens(self, messages: list[dict]) -> list[int]:
        return self.tokens.prompt(messages)

    def count_tokens(self, messages: list[dict]) -> int:
        return len(self.tokens.prompt(messages))

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

    def stream(self, messages: list[dict], max_tokens: int, info: Generation | None = None,
               gate: Gate | None = None) -> Iterator[str]:
        """Greedy decoding, one text delta at a time; info (if given) receives each token's log-probability and, when
        it asks (capture=True), the watched layers' states at the prompt's end and at each generated token. gate is
        asked once the prompt is evaluated: False ends the generation there, before its first token."""
        info = info if info is not None else Generation()
        with self._lock:
            capturing = bool(info.capture and self.capture and self.capture.layers)
            if capturing:
                self.capture.enable(True)
            try:
                yield from self._decode(messages, max_tokens, info, gate, capturing)
            finally:
                if capturing:
                    self.capture.enable(False)

    def _decode(self, messages: list[dict], max_tokens: int, info: Generation, gate: Gate | None,
                capturing: bool) -> Iterator[str]:
        tokens = self.prompt_tokens(messages)
        if len(tokens) + max_tokens > self.context_window:
            max_tokens = max(0, self.context_window - len(tokens))
        info.prompt_tokens = len(tokens)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        logits = self._evaluate(tokens, info)
        if capturing:
            info.layers, info.states = self.capture.layers, self.capture.read()
        if gate is not None and not gate(info):
            info.finish = "gated"
            return
        for _ in range(max_tokens):
            token = int(np.argmax(logits))
            if token in self._stops:
                info.finish = "stop"
                return
            info.logprobs.append(float(logits[token] - _logsumexp(logits)))
            piece = self.llm.detokenize([token])
            info.tokens.append(piece.decode("utf-8", errors="replace"))
            delta = decoder.decode(piece)
            if delta:
                yield delta
            logits = self._evaluate(tokens := tokens + [token])
            if capturing:
                info.token_states.append(self.capture.read())
        info.finish = "length"


def _logsumexp(logits: np.ndarray) -> float:
    top = float(logits.max())
    return top + float(np.log(np.exp(logits - top).sum()))
