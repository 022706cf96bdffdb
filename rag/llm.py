"""Generator backends: the bundled GGUF models run in-process by llama.cpp, or any OpenAI-compatible server by URL.

Example: backend = load_llm(settings)            # "default" -> Qwen2.5-Coder-1.5B, "fast" -> 0.5B, or a URL
         "".join(backend.stream([{"role": "user", "content": "Say hi"}], max_tokens=8)) -> "Hi!"
Both backends stream text deltas, count prompt tokens for the context-budget guard, and raise
BackendUnavailableError (one clear line) instead of library exceptions.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Protocol
from urllib.parse import urlparse

from rag.config import Settings
from rag.errors import BackendUnavailableError
from rag.models import GGUF_MODELS, gguf_path

_PER_MESSAGE_TOKENS = 6  # ChatML wraps each message in <|im_start|>role\n ... <|im_end|>\n
PROBE_S = 2.0  # seconds a model server gets to list its models at start


class LLMBackend(Protocol):
    name: str
    context_window: int
    small_model: bool  # the answer prompt for small models (rag.prompts) carries a worked example

    def count_tokens(self, messages: list[dict]) -> int: ...

    def stream(self, messages: list[dict], max_tokens: int) -> Iterator[str]: ...


class LlamaCppBackend:
    """A bundled GGUF run in-process. Written on llama-cpp-python directly rather than llama-index's LlamaCPP wrapper:
    we need the model's own tokenizer (budget guard), its GGUF chat template (the wrapper defaults to Llama-2
    prompts), and one long-lived Llama object whose KV cache keeps the fixed system-prompt prefix between questions."""

    def __init__(self, model_path: str, name: str, n_ctx: int, n_threads: int, small_model: bool = False):
        from llama_cpp import Llama

        self.name = name
        self.context_window = n_ctx
        self.small_model = small_model
        try:
            self.llm = Llama(model_path=model_path, n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                             n_batch=512, seed=0, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise BackendUnavailableError(f"Cannot load model {model_path} ({exc}); run `python -m rag models`") from None
        self._lock = threading.Lock()  # one generation at a time: the KV cache is shared state

    def count_tokens(self, messages: list[dict]) -> int:
        return sum(len(self.llm.tokenize(m["content"].encode("utf-8"), add_bos=False, special=False))
                   + _PER_MESSAGE_TOKENS for m in messages) + 3

    def stream(self, messages: list[dict], max_tokens: int) -> Iterator[str]:
        with self._lock:
            chunks = self.llm.create_chat_completion(messages=messages, stream=True, temperature=0.0, top_k=1,
                                                     max_tokens=max_tokens, seed=0)
            for chunk in chunks:
                delta = chunk["choices"][0]["delta"].get("content")
                if delta:
                    yield delta


class OpenAIServerBackend:
    """Any OpenAI-compatible chat server (llama.cpp server, vLLM, Ollama) through llama-index's OpenAILike."""

    def __init__(self, url: str, model_name: str, n_ctx: int, timeout: float = 60.0):
        base = url.rstrip("/")
        if not urlparse(base).path.endswith("/v1"):
            base += "/v1"
        self.name = f"{model_name} at {base}"
        self.context_window = n_ctx
        self.small_model = False  # a server's model is chosen for being bigger than the bundled ones
        self.url = base
        self.probe()  # before importing the client library (a second or two): a dead server is told at once

        from llama_index.llms.openai_like import OpenAILike

        self.llm = OpenAILike(model=model_name, api_base=base, api_key="not-needed", is_chat_model=True,
                              context_window=n_ctx, temperature=0.0, max_retries=0, timeout=timeout)

    def probe(self) -> None:
        """Ask the server for its model list, with a short timeout: a wrong URL, a server that is down or hung, or
        something that is not an OpenAI-compatible server is reported at start, not after a minute-long timeout
        on the first question (OpenAILike applies one timeout to connecting and to generating)."""
        import httpx

        try:
            reply = httpx.get(f"{self.url}/models", timeout=PROBE_S)
            reply.raise_for_status()
            listed = reply.json()["data"]
            if not isinstance(listed, list):
                raise TypeError("'data' is not a list")
        except httpx.HTTPError as exc:
            raise BackendUnavailableError(f"Model server {self.url} does not answer ({type(exc).__name__}: "
                                          f"{str(exc)[:200] or 'no reply'}); check it is running, or use RAG_MODEL=default") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise BackendUnavailableError(f"Model server {self.url} answered GET /models with something that is not an "
                                          f"OpenAI-compatible model list ({type(exc).__name__}: {str(exc)[:120]}); check "
                                          f"the URL (it should end in /v1), or use RAG_MODEL=default") from None

    def count_tokens(self, messages: list[dict]) -> int:
        # The server's tokenizer is not at hand; 3 characters a token over-counts English for every common
        # tokenizer, so the guard errs on the side of a shorter prompt.
        return sum(len(m["content"]) // 3 + _PER_MESSAGE_TOKENS for m in messages) + 3

    def stream(self, messages: list[dict], max_tokens: int) -> Iterator[str]:
        from llama_index.core.llms import ChatMessage

        chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
        received = 0
        try:
            for response in self.llm.stream_chat(chat, max_tokens=max_tokens):
                received += 1
                if response.delta:
                    yield response.delta
        except Exception as exc:  # openai/httpx raise many types; to a user they all mean "the server failed"
            raise BackendUnavailableError(
                f"Model server {self.url} failed ({type(exc).__name__}: {str(exc)[:200]}); check it is running and "
                f"serves an OpenAI-compatible /v1/chat/completions, or use RAG_MODEL=default") from None
        if not received:  # a body that is not a server-sent-event stream parses as no chunks at all, silently
            raise BackendUnavailableError(
                f"Model server {self.url} answered /chat/completions with no completion stream; check it serves an "
                f"OpenAI-compatible /v1/chat/completions, or use RAG_MODEL=default")


def load_llm(settings: Settings) -> LLMBackend:
    """The backend settings.model names: a bundled model (assembled and verified on first use) or a server URL."""
    if settings.model.startswith(("http://", "https://")):
        return OpenAIServerBackend(settings.model, settings.model_name, settings.n_ctx)
    path = gguf_path(settings.model, settings.cache_dir)
    return LlamaCppBackend(str(path), settings.model, settings.n_ctx, settings.n_threads,
                           small_model=GGUF_MODELS[settings.model].small_model)
