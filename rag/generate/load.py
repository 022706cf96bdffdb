"""The generator backend the Settings name: a bundled model in-process, or a model server by URL.

Example: load_llm(load_settings(model="fast")) -> LlamaCppBackend (Qwen2.5-Coder-0.5B, from the assembled GGUF)
         load_llm(load_settings(model="http://127.0.0.1:8080/v1")) -> OpenAIServerBackend (checked at once)
         token_counter(load_settings())(messages) -> 301   (the prompt's tokens, without loading the weights)
"""

from __future__ import annotations

from collections.abc import Callable

from rag.config import Settings
from rag.generate.backend import LLMBackend
from rag.generate.models import GGUF_MODELS, gguf_path, verified_sha256
from rag.generate.server import OpenAIServerBackend, estimate_tokens


def load_llm(settings: Settings) -> LLMBackend:
    """The backend settings.model names: a bundled model in settings.weights (as `python -m rag models` made and
    verified it) or a server URL."""
    if settings.model.startswith(("http://", "https://")):
        return OpenAIServerBackend(settings.model, settings.model_name, settings.n_ctx)
    from rag.generate.llama_backend import LlamaCppBackend  # imports llama_cpp: only when a bundled model is used

    path = gguf_path(settings.model, settings.cache_dir, settings.weights)
    return LlamaCppBackend(str(path), settings.model, settings.n_ctx, settings.n_threads,
                           small_model=GGUF_MODELS[settings.model].small_model, cache_dir=settings.cache_dir,
                           model_sha256=verified_sha256(settings.model, settings.cache_dir, settings.weights))


def token_counter(settings: Settings) -> Callable[[list[dict]], int]:
    """count(messages) as the backend settings.model names counts a prompt, without loading a model: a bundled
    model's own tokenizer (its vocabulary alone), or a server's estimate."""
    if settings.model.startswith(("http://", "https://")):
        return estimate_tokens
    from rag.generate.llama_backend import ChatTokens

    return ChatTokens.of_file(str(gguf_path(settings.model, settings.cache_dir, settings.weights))).count
