"""One Settings object for the whole app, read once at start from RAG_* environment variables and CLI flags.

Example: RAG_CHUNK_SIZE=128 python -m rag index   ->  Settings(chunk_size=128, ...)
Nothing else in the code base reads os.environ; everything receives this object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import ConfigError

BUNDLED_MODELS = ("default", "fast")
# How documents are read, outlined and cut into units (rag/read/readers.py, rag/read/outline.py). Part of every file's index
# key: a new value re-reads every file on the next `index`, whose bytes have not changed but whose reading has.
READING = "blocks-3"


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "offline-rag"


class Settings(BaseSettings):
    """Every knob of the app. Env var RAG_<NAME> sets <name>; CLI flags override."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="forbid", frozen=True)

    # where things live
    seeds_dir: Path = Path("seeds")
    index_dir: Path = Path("index")
    data_dir: Path = Path("data")  # feedback and other user data
    cache_dir: Path = Field(default_factory=_default_cache_dir)  # assembled model files

    # Chroma: embedded (PersistentClient under index_dir) unless a server host is given
    chroma_host: str | None = None
    chroma_port: int = Field(8000, ge=1, le=65535)
    collection: str = Field("rag_chunks", min_length=3, max_length=60, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]+[A-Za-z0-9]$")

    # generator: "default" (bundled 1.5B), "fast" (bundled 0.5B) or an OpenAI-compatible server URL
    model: str = "default"
    model_name: str = "local"  # the model id sent to an OpenAI-compatible server
    # a bundled model's weights: "q4_k_m" (the shipped file), or "q8_0" / "q4_0" requantized from it by
    # `python -m rag models` (llama.cpp's CPU kernels differ by format: bench/formats.py)
    weights: str = Field("q4_k_m", pattern="^(q4_k_m|q8_0|q4_0)$")
    n_threads: int = Field(2, ge=1, le=256)
    n_ctx: int = Field(4096, ge=512, le=131072)
    max_tokens: int = Field(256, ge=16, le=4096)
    # the decision file of the bundled model (rag/answer/decision/) decides with the probes on its hidden states where
    # they can be read: the second look, refusals, confirmation; false: the word rules alone, on the first look
    probes: bool = True

    # chunking and retrieval (chosen by measurement, see README "Retrieval")
    chunk_size: int = Field(128, ge=32, le=2048)  # tokens
    chunk_overlap: int = Field(16, ge=0)
    top_k: int = Field(6, ge=1, le=100)  # chunks kept after fusion
    evidence_k: int = Field(5, ge=1, le=50)  # at most this many passages handed to the answer step
    evidence_tokens: int = Field(240, ge=16, le=8192)  # and at most this many prompt tokens of them (headers included)
    # the second look's passages, added when the decision file finds the first look does not hold the answer (the
    # shipped file reads no second look: out of corpus it cost right answers); 0: never
    second_look_tokens: int = Field(240, ge=0, le=8192)
    evidence_window: str = Field("next", pattern="^(unit|next|around)$")  # a unit alone, with the next, or both sides

    # chat UI
    host: str = "127.0.0.1"
    port: int = Field(7860, ge=1, le=65535)
    auth: str | None = None  # "user:password"
    upload_max_mb: int = Field(20, ge=1, le=1024)
    # answers the window makes at once; more only helps with a model server that batches (README "Many users")
    answer_slots: int = Field(1, ge=1, le=16)

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value in BUNDLED_MODELS or value.startswith(("http://", "https://")):
            return value
        raise ValueError(f"must be one of {', '.join(BUNDLED_MODELS)} or an http(s):// URL of an OpenAI-compatible server")

    @field_validator("auth")
    @classmethod
    def _user_password(cls, value: str | None) -> str | None:
        if value is not None and (":" not in value or value.startswith(":") or value.endswith(":")):
            raise ValueError("must look like user:password")
        return value

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size ({self.chunk_size})")
        return self

    @property
    def chunking(self) -> str:
        """How chunks are cut, as one key ("128/16/blocks-3"); chunks cut with another key are re-made."""
        return f"{self.chunk_size}/{self.chunk_overlap}/{READING}"

    @property
    def uses_chroma_server(self) -> bool:
        return bool(self.chroma_host)


def load_settings(**overrides: Any) -> Settings:
    """Build Settings from the environment plus explicit overrides (None values are ignored).

    A bad value raises ConfigError naming the setting, its env var and why, e.g.
    "Bad setting chunk_size (RAG_CHUNK_SIZE): Input should be greater than or equal to 32".
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]) or "settings"
            where = f"{name} (RAG_{name.upper()})" if error["loc"] else name
            problems.append(f"{where}: {error['msg']}")
        raise ConfigError("Bad setting " + "; ".join(problems) + ". Fix the environment variable or flag and retry.") from None
