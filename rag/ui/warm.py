"""Engines kept warm for the chat window: each model loads once, in a background thread, while the window is up.

Example: engines = WarmEngines(pipeline); engines.start("default", index_first=True)   # returns at once
         engines.status("default") -> "Loading model default… 3 s"; later "Ready: model default"
         engine = engines.get("default")   # waits for the load, then the same Engine every time
Answers take `slots` (settings.answer_slots at once, in arrival order); `busy` is every slot, for whatever changes
the index (an upload's indexing, the start-up index); an in-process model answers one question at a time whatever
the slots (`generating`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from rag.answer.engine import Engine
from rag.errors import RagError
from rag.generate.backend import LLMBackend
from rag.generate.load import load_llm
from rag.generate.server import OpenAIServerBackend
from rag.pipeline import Pipeline
from rag.ui.slots import AnswerSlots


class WarmEngines:
    def __init__(self, pipeline: Pipeline, loader: Callable[[str], LLMBackend] | None = None,
                 loaded: dict[str, Engine] | None = None):
        self.pipeline = pipeline
        self.settings = pipeline.settings
        self.loader = loader or (lambda model: load_llm(self.settings.model_copy(update={"model": model})))
        self.slots = AnswerSlots(self.settings.answer_slots)
        self._in_process = threading.Lock()
        self.note = ""  # problems the start-up index found (skipped files, its error)
        self._engines: dict[str, Engine] = dict(loaded or {})
        self._errors: dict[str, str] = {}
        self._started: dict[str, float] = {}
        self._phase = ""
        self._changed = threading.Condition()

    @classmethod
    def around(cls, engine: Engine) -> WarmEngines:
        """Engines for a window given one ready Engine (tests, notebooks): other models load on demand."""
        return cls(engine.pipeline, loaded={engine.settings.model: engine})

    def start(self, model: str, index_first: bool = False) -> None:
        """Begin loading `model` in the background unless it is loaded or loading; optionally index first."""
        with self._changed:
            if model in self._engines or model in self._started:
                return
            self._started[model] = time.monotonic()
            self._errors.pop(model, None)
        threading.Thread(target=self._load, args=(model, index_first), name=f"load-{model}", daemon=True).start()

    @property
    def busy(self) -> AbstractContextManager:
        """Every answer slot: for indexing, which waits for the answers running and holds back the next ones."""
        return self.slots.exclusive()

    def generating(self, engine: Engine) -> AbstractContextManager:
        """A server takes concurrent requests; one llama.cpp context in this process cannot serve two threads."""
        return nullcontext() if isinstance(engine.llm, OpenAIServerBackend) else self._in_process

    def _load(self, model: str, index_first: bool) -> None:
        try:
            if index_first:
                self._index()
            self._set_phase(f"Loading model {model}…")
            engine = Engine(self.pipeline, self.loader(model))
            self._warm_retrieval()
            with self._changed:
                self._engines[model] = engine
        except RagError as exc:
            with self._changed:
                self._errors[model] = str(exc)
        except Exception as exc:  # a background thread must report, not die silently
            with self._changed:
                self._errors[model] = f"{type(exc).__name__}: {exc}"
        finally:
            with self._changed:
                self._started.pop(model, None)
                self._phase = ""
                self._changed.notify_all()

    def _index(self) -> None:
        """Bring the index in line with the documents folder; a failure is reported but still lets the model load."""
        self._set_phase("Indexing documents…")
        try:
            with self.busy:
                summary = self.pipeline.index(progress=False)
            self.note = "; ".join(summary.skipped + summary.warnings)
        except RagError as exc:
            self.note = f"indexing failed: {exc}"

    def _warm_retrieval(self) -> None:
        """One throw-away search, so the embedder, BM25 and Chroma are loaded before the first real question."""
        self._set_phase("Warming up retrieval…")
        try:
            with self.busy:
                self.pipeline.evidence("warm up")
        except RagError:  # an empty index: the first upload builds it
            pass

    def _set_phase(self, text: str) -> None:
        with self._changed:
            self._phase = text

    def ready(self, model: str) -> bool:
        return model in self._engines

    def loading(self) -> bool:
        return bool(self._started)

    def get(self, model: str, timeout: float | None = None) -> Engine:
        """The Engine for `model`, loading it first if needed; RagError if the load failed."""
        self.start(model)
        with self._changed:
            self._changed.wait_for(lambda: model in self._engines or model in self._errors, timeout)
            if model in self._errors:
                raise RagError(f"Model {model} could not be loaded: {self._errors.pop(model)}")
            if model not in self._engines:
                raise RagError(f"Model {model} is still loading; try again in a moment")
            return self._engines[model]

    def status(self, model: str) -> str:
        """One line for the window: loading (with seconds so far), failed, or ready."""
        with self._changed:
            if model in self._errors:
                return f"Model {model} failed to load: {self._errors[model]}"
            if model in self._started:
                waited = time.monotonic() - self._started[model]
                return f"{self._phase or f'Loading model {model}…'} {waited:.0f} s"
            if model in self._engines:
                return f"Ready: model {model}" + (f" · {self.note}" if self.note else "")
            return f"Model {model} loads on the first question"
