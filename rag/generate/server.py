"""Any OpenAI-compatible chat server (llama.cpp server, vLLM, Ollama) as a generator backend.

Example: backend = OpenAIServerBackend("http://127.0.0.1:8080", "local", n_ctx=4096)
         "".join(backend.stream([{"role": "user", "content": "Say hi"}], max_tokens=8)) -> "Hi!"
Reports each token's log-probability where the server gives it, counts prompt tokens
(over-estimating: the server's tokenizer is not at hand) and raises BackendUnavailableError (one clear line) instead of
library exceptions.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse

from rag.errors import BackendUnavailableError
from rag.generate.backend import Gate, Generation
from rag.generate.capture import CaptureUnavailable

_PER_MESSAGE_TOKENS = 6  # ChatML wraps each message in <|im_start|>role\n ... <|im_end|>\n
PROBE_S = 2.0  # seconds a model server gets to list its models at start


class OpenAIServerBackend:
    """Any OpenAI-compatible chat server (llama.cpp server, vLLM, Ollama) through llama-index's OpenAILike."""

    def __init__(self, url: str, model_name: str, n_ctx: int, timeout: float = 60.0):
        base = url.rstrip("/")
        if not urlparse(base).path.endswith("/v1"):
            base += "/v1"
        self.name = f"{model_name} at {base}"
        self.context_window = n_ctx
        self.small_model = False  # a server's model is chosen for being bigger than the bundled ones
        self.logits = "server logprobs"  # until the server shows it has none (then "none")
        self.states_unavailable = "a model server does not show its hidden states"
        self.model_sha256 = None
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
        return estimate_tokens(messages)

    def _chat(self, messages: list[dict]):
        from llama_index.core.llms import ChatMessage

        return [ChatMessage(role=m["role"], content=m["content"]) for m in messages]

    def _failed(self, exc: Exception) -> BackendUnavailableError:
        return BackendUnavailableError(
            f"Model server {self.url} failed ({type(exc).__name__}: {str(exc)[:200]}); check it is running and "
            f"serves an OpenAI-compatible /v1/chat/completions, or use RAG_MODEL=default")

    def watch(self, layers: tuple[int, ...]) -> None:
        raise CaptureUnavailable(f"cannot read the hidden states of {self.name}: {self.states_unavailable}")

    def stream(self, messages: list[dict], max_tokens: int, info: Generation | None = None,
               gate: Gate | None = None) -> Iterator[str]:
        """gate is never asked: a server's prompt is evaluated where no state can be read."""
        info = info if info is not None else Generation()
        info.prompt_tokens = self.count_tokens(messages)
        received = 0
        try:
            for response in self.llm.stream_chat(self._chat(messages), max_tokens=max_tokens,
                                                 **({"logprobs": True} if self.logits != "none" else {})):
                received += 1
                info.logprobs.extend(_chunk_logprobs(response.raw))
                if response.delta:
                    yield response.delta
        except Exception as exc:  # openai/httpx raise many types; to a user they all mean "the server failed"
            raise self._failed(exc) from None
        if not received:  # a body that is not a server-sent-event stream parses as no chunks at all, silently
            raise BackendUnavailableError(
                f"Model server {self.url} answered /chat/completions with no completion stream; check it serves an "
                f"OpenAI-compatible /v1/chat/completions, or use RAG_MODEL=default")
        info.finish = "stop" if received else ""
        if self.logits != "none" and not info.logprobs:  # asked for, none came (llama-cpp-python's server)
            self.logits = "none"


def estimate_tokens(messages: list[dict]) -> int:
    """A prompt's tokens where the server's tokenizer is not at hand: 3 characters a token over-counts English for
    every common tokenizer, so the context guard errs on the side of a shorter prompt."""
    return sum(len(m["content"]) // 3 + _PER_MESSAGE_TOKENS for m in messages) + 3


def _chunk_logprobs(raw) -> list[float]:
    """The log-probabilities an OpenAI streaming chunk carries, if any."""
    try:
        content = raw.choices[0].logprobs.content or []
    except (AttributeError, IndexError, TypeError):
        return []
    return [float(item.logprob) for item in content]
