"""The generator's own hidden states, read while llama.cpp evaluates: the residual stream (l_out-N) of chosen layers
at the last token of each evaluation, kept by a C eval callback (capture.c) built once against llama-cpp-python's own
libggml-base.

Example: capture = Capture.build(cache_dir)
         with capture.installed():                         # the Llama made inside gets the callback
             llm = Llama(model_path=...)
         capture.configure((17,), llm.n_embd()); capture.enable(True); llm.eval(tokens)
         capture.read() -> array of shape (1, 1536): layer 17's state at the last token evaluated
Installed but switched off (or with no layers), the callback declines every node and costs nothing measurable.
The library is compiled by `python -m rag models` (which ./start.sh runs) or on first use, with the C compiler that
built llama-cpp-python, into the model cache keyed by the source and the llama.cpp build; without a compiler the
probes are off and the engine says so (CaptureUnavailable). No pure-Python fallback: a ctypes callback costs 7% of
prompt speed and 24% of generation speed (docs/decisions.md).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from functools import cache
from importlib.metadata import version
from pathlib import Path

import numpy as np

from rag.errors import RagError

SOURCE = Path(__file__).with_name("capture.c")
_PATCHING = threading.Lock()  # llama_context_default_params is module state: one Llama is made at a time under it


class CaptureUnavailable(RagError):
    """The capture library cannot be built or loaded here; the engine decides without the model's states."""


def llama_library_dir() -> Path:
    import llama_cpp.llama_cpp as bindings

    return Path(bindings.__file__).parent / "lib"


def library_path(cache_dir: Path) -> Path:
    """Where the built library lives: one per source text and llama.cpp build (a rebuilt llama-cpp-python gets its own)."""
    libdir = llama_library_dir()
    base = libdir / "libggml-base.so"
    stamp = f"{version('llama-cpp-python')}:{libdir}:{base.stat().st_mtime_ns if base.exists() else 0}"
    key = hashlib.sha256(SOURCE.read_bytes() + stamp.encode()).hexdigest()[:16]
    return Path(cache_dir).expanduser() / f"capture-{key}.so"


def build_library(cache_dir: Path) -> Path:
    """Compile capture.c into the cache (once); CaptureUnavailable says what is missing."""
    target = library_path(cache_dir)
    if target.is_file():
        return target
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        raise CaptureUnavailable("no C compiler (cc or gcc) to build the hidden-state capture; install gcc and run "
                                 "`python -m rag models`")
    libdir = llama_library_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    command = [compiler, "-O2", "-shared", "-fPIC", str(SOURCE), "-o", str(partial), f"-L{libdir}", "-lggml-base",
               f"-Wl,-rpath,{libdir}"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CaptureUnavailable(f"building the hidden-state capture failed ({exc})") from None
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise CaptureUnavailable(f"building the hidden-state capture failed: {done.stderr.strip()[:300]}")
    partial.replace(target)
    return target


@cache
def load_library(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    lib.capture_new.restype = ctypes.c_void_p
    lib.capture_configure.restype = ctypes.c_int
    lib.capture_configure.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    lib.capture_enable.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.capture_rows.restype = ctypes.POINTER(ctypes.c_float)
    lib.capture_rows.argtypes = [ctypes.c_void_p]
    lib.capture_writes.restype = ctypes.c_int64
    lib.capture_writes.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


class Capture:
    """One model context's capture: which layers it keeps, and their latest rows. Lives as long as its context (the
    context holds a pointer to its state), so it is never freed."""

    def __init__(self, library: ctypes.CDLL):
        self.lib, self.layers, self.width = library, (), 0
        self.state = library.capture_new()
        if not self.state:
            raise CaptureUnavailable("no memory for the hidden-state capture")

    @classmethod
    def build(cls, cache_dir: Path) -> Capture:
        return cls(load_library(build_library(cache_dir)))

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Every llama.cpp context made inside gets this capture as its eval callback: llama-cpp-python's Llama
        builds its context parameters with llama_context_default_params(), wrapped here while it runs."""
        import llama_cpp.llama_cpp as bindings

        callback = ctypes.cast(self.lib.capture_callback, bindings.ggml_backend_sched_eval_callback)
        self._callback = callback  # the context holds the pointer: keep its ctypes object alive as long as we are
        with _PATCHING:
            original = bindings.llama_context_default_params

            def with_capture():
                params = original()
                params.cb_eval = callback
                params.cb_eval_user_data = self.state
                return params

            bindings.llama_context_default_params = with_capture
            try:
                yield
            finally:
                bindings.llama_context_default_params = original

    def configure(self, layers: tuple[int, ...], width: int) -> None:
        """Keep these layers' rows (l_out-N, N counted from 0) of `width` floats; () keeps none."""
        layers = tuple(int(n) for n in layers)
        if not self.lib.capture_configure(self.state, len(layers), (ctypes.c_int * max(1, len(layers)))(*layers), width):
            raise CaptureUnavailable(f"cannot keep layers {layers} of width {width} (at most 16 layers)")
        self.layers, self.width = layers, width

    def enable(self, on: bool) -> None:
        """Off, the callback declines every node at once: llama.cpp computes the graph as without it."""
        self.lib.capture_enable(self.state, int(on and bool(self.layers)))

    def writes(self) -> list[int]:
        """Rows copied per layer so far: a count that did not move means that layer was not evaluated."""
        return [self.lib.capture_writes(self.state, i) for i in range(len(self.layers))]

    def read(self) -> np.ndarray:
        """A copy of the latest row of each layer: shape (layers, width), float32."""
        rows = np.ctypeslib.as_array(self.lib.capture_rows(self.state), shape=(len(self.layers) * self.width,))
        return rows.reshape(len(self.layers), self.width).copy()
