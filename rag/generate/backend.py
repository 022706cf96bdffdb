"""What every generator backend offers: streamed text, token counts, and log-probabilities and hidden states where it
has them. The backends: rag/generate/llama_backend.py (a bundled GGUF in-process) and rag/generate/server.py (an
OpenAI-compatible server); rag/generate/load.py picks one from the Settings.

Example: info = Generation(); "".join(backend.stream([{"role": "user", "content": "Say hi"}], 8, info)) -> "Hi!"
         info.finish -> "stop"; info.logprobs -> [-0.02, -0.3]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Generation:
    """What a backend reports about one generation, filled in while it streams."""
    logprobs: list[float] = field(default_factory=list)  # one per generated token, where the backend gives them
    finish: str = ""  # "stop" (the model ended), "length" (max_tokens), or "" (the caller stopped reading)
    prompt_tokens: int = 0
    new_prompt_tokens: int | None = None  # of them, the ones evaluated (not already in the KV cache), where known
    capture: bool = False  # asked for: the model's hidden states of the watched layers (backends that have them)
    layers: tuple[int, ...] = ()  # the layers captured, in the order of the states' rows
    states: Any = None  # (layers, width) array: the state at the prompt's last token (the open assistant turn)
    token_states: list = field(default_factory=list)  # one (layers, width) array per generated token, in order
    tokens: list[str] = field(default_factory=list)  # the generated tokens' text, where the backend gives them


# Called once the prompt is evaluated, before the first token: False stops the generation there (finish "gated").
Gate = Callable[[Generation], bool]


class LLMBackend(Protocol):
    name: str
    context_window: int
    small_model: bool  # the answer prompt for small models (rag.generate.prompts) carries a worked example
    logits: str  # where log-probabilities come from: "in-process", "server logprobs", or "none"
    # why the model's hidden states cannot be read ("" when they can: a bundled model in-process with its capture)
    states_unavailable: str
    model_sha256: str | None  # the model file the states come from (probes belong to one file)

    def count_tokens(self, messages: list[dict]) -> int: ...

    def watch(self, layers: tuple[int, ...]) -> None: ...

    def stream(self, messages: list[dict], max_tokens: int, info: Generation | None = None,
               gate: Gate | None = None) -> Iterator[str]: ...

