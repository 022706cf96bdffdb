"""What every generator backend offers: streamed text, token counts, log-probabilities and yes/no probabilities where
it has them. The backends: rag/generate/llama_backend.py (a bundled GGUF in-process) and rag/generate/server.py (an
OpenAI-compatible server); rag/generate/load.py picks one from the Settings.

Example: info = Generation(); "".join(backend.stream([{"role": "user", "content": "Say hi"}], 8, info)) -> "Hi!"
         info.finish -> "stop"; info.logprobs -> [-0.02, -0.3]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class Generation:
    """What a backend reports about one generation, filled in while it streams."""
    logprobs: list[float] = field(default_factory=list)  # one per generated token, where the backend gives them
    finish: str = ""  # "stop" (the model ended), "length" (max_tokens), or "" (the caller stopped reading)
    prompt_tokens: int = 0
    new_prompt_tokens: int | None = None  # of them, the ones evaluated (not already in the KV cache), where known


class LLMBackend(Protocol):
    name: str
    context_window: int
    small_model: bool  # the answer prompt for small models (rag.generate.prompts) carries a worked example
    logits: str  # where log-probabilities come from: "in-process", "server logprobs", or "none"

    def count_tokens(self, messages: list[dict]) -> int: ...

    def stream(self, messages: list[dict], max_tokens: int, info: Generation | None = None) -> Iterator[str]: ...

    def yes_probability(self, messages: list[dict], reply: str | None = None) -> float | None: ...
