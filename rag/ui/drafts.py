"""The window's "Test my documents" tab: drafting questions from the indexed documents in the background, one
run at a time, while the chat goes on.

Example: drafts = Drafts(engines, Path("data/drafts")); drafts.start(20, "default")   # returns at once
           -> ("Drafting 20 questions with model default…", True)
         drafts.progress() -> ("Drafting: kept 7 of 20 (11 tries) · 3.2 items/min · about 4 min left",
                               [[True, "Why was the trip called off?", "a weather balloon", "...", "000_....txt",
                                 "why", "g001"], ...], {"running": True, "kept": 7, "tried": 11, ...})
         drafts.stop() -> "Stopping after this try… (kept 7 of 11 tries)"
rag.draft.question_set writes the draft to <folder>/<timestamp>.jsonl (its .partial log while it runs, kept when it is
stopped or fails). Each try takes an answer slot as a chat answer does, held through its model call and its
retrieval round trip, so drafting and chat questions take turns. rag/ui/draft_run.py runs the kept rows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from rag.draft.passages import spread_passages
from rag.draft.question_set import DraftReport, UnusableDrafter, draft_set
from rag.errors import BadInputError, RagError
from rag.ui.draft_run import answer_slot, rows_of
from rag.ui.warm import WarmEngines

MOST = 200  # questions one run may draft (about an hour with the default model on 2 cores)
log = logging.getLogger(__name__)


class TurnTakingModel:
    """The warm engine's model for drafting: a try's first model call takes an answer slot, held until end_try()."""

    def __init__(self, engines: WarmEngines, engine):
        self.engines, self.engine = engines, engine
        self._held: ExitStack | None = None

    def __getattr__(self, name: str):  # name, small_model, count_tokens ...: the model's own
        return getattr(self.engine.llm, name)

    def stream(self, messages: list[dict], max_tokens: int, info=None, gate=None) -> Iterator[str]:
        if self._held is None:
            self._held = ExitStack()
            self._held.enter_context(answer_slot(self.engines, self.engine))
        yield from self.engine.llm.stream(messages, max_tokens, info, gate)

    def end_try(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None


@dataclass
class DraftJob:
    wanted: int
    model: str
    out: Path
    report: DraftReport = field(default_factory=DraftReport)
    items: list[dict] = field(default_factory=list)
    error: str = ""
    done: bool = False
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def partial(self) -> Path:
        return self.out.with_name(self.out.name + ".partial")

    def record(self) -> dict:
        return {"running": not self.done, "wanted": self.wanted, "kept": self.report.kept, "tried": self.report.tried,
                "per_minute": round(self.report.per_minute, 2), "stopped": self.stop.is_set(), "error": self.error,
                "out": str(self.out if self.out.exists() else self.partial)}


def wanted_count(n: float | str | None) -> int:
    """How many questions to draft, checked: a whole number from 1 to MOST, else BadInputError."""
    try:
        wanted = int(float(n))
    except (TypeError, ValueError, OverflowError):
        raise BadInputError(f"Type how many questions to draft, 1 to {MOST}") from None
    if not 1 <= wanted <= MOST or wanted != float(n):
        raise BadInputError(f"Draft 1 to {MOST} questions at a time, not {n}")
    return wanted


def fresh_path(folder: Path) -> Path:
    """<folder>/<timestamp>.jsonl that no earlier draft used (draft_set would resume that one)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path, number = folder / f"{stamp}.jsonl", 1
    while path.exists() or path.with_name(path.name + ".partial").exists():
        number += 1
        path = folder / f"{stamp}-{number}.jsonl"
    return path


def _time_left(job: DraftJob) -> str:
    if job.report.per_minute <= 0:
        return "time left: known once a question is kept"
    minutes = (job.wanted - job.report.kept) / job.report.per_minute
    return f"about {max(5, 5 * round(minutes * 12))} s left" if minutes < 1.5 else f"about {round(minutes)} min left"


def progress_line(job: DraftJob | None) -> str:
    """One line for the tab: not started, drafting (kept, tries, speed, time left), stopped, failed or done."""
    if job is None:
        return "Nothing drafted yet: choose how many questions, then Draft questions."
    report, then = job.report, "Edit the table if you like, then run the kept questions."
    if job.error:
        return f"Drafting stopped: {job.error}" + (f" ({report.kept} kept, in {job.partial})" if report.kept else "")
    if not job.done:
        if job.stop.is_set():
            return f"Stopping after this try… (kept {report.kept} of {report.tried} tries)"
        if not report.tried:
            return f"Drafting {job.wanted} questions with model {job.model}…"
        return (f"Drafting: kept {report.kept} of {job.wanted} ({report.tried} tries) · "
                f"{report.per_minute:.1f} items/min · {_time_left(job)}")
    if job.stop.is_set() and report.kept < job.wanted:
        return f"Stopped: kept {report.kept} of {report.tried} tries, saved in {job.partial}. {then}"
    return f"Drafted {report.kept} of {job.wanted} questions in {report.tried} tries: {job.out}. {then}"


class Drafts:
    """The window's drafting, shared by its sessions: one run at a time, in a background thread."""

    def __init__(self, engines: WarmEngines, folder: Path):
        self.engines, self.folder = engines, Path(folder)
        self.job: DraftJob | None = None
        self._starting = threading.Lock()

    def start(self, n: float | str | None, model: str) -> tuple[str, bool]:
        """Begin drafting n questions with `model`: (the tab's line, whether it started); a refusal is one line."""
        try:
            wanted = wanted_count(n)
            with self._starting:
                if self.job and not self.job.done:
                    raise BadInputError("Drafting is already running: stop it, or wait for it to finish")
                next(spread_passages(self.engines.pipeline))  # no documents, or none with prose: said at once
                self.job = DraftJob(wanted, model, fresh_path(self.folder))
        except RagError as exc:
            return str(exc), False
        except OSError as exc:
            return f"Cannot write drafts to {self.folder}: {exc.strerror or exc}", False
        threading.Thread(target=self._draft, args=(self.job,), name="draft", daemon=True).start()
        return progress_line(self.job), True

    def _draft(self, job: DraftJob) -> None:
        model = None
        try:
            model = TurnTakingModel(self.engines, self.engines.get(job.model))

            def on_attempt(report: DraftReport, item: dict | None) -> None:
                model.end_try()  # the chat questions waiting go first
                job.report = report
                if item:
                    job.items.append(item)

            job.report = draft_set(self.engines.pipeline, model, job.wanted, job.out, on_attempt=on_attempt,
                                   should_stop=job.stop.is_set)
        except UnusableDrafter as exc:
            job.error = f"{exc}: choose default under Model in the sidebar, then Draft questions again"
        except RagError as exc:
            job.error = " ".join(str(exc).split())
        except OSError as exc:
            job.error = f"cannot write {job.partial}: {exc.strerror or exc}"
        except Exception:  # a background thread must report, not die silently
            log.exception("drafting failed")
            job.error = "something went wrong; the server log has the details"
        finally:
            if model is not None:
                model.end_try()
            job.done = True

    def stop(self) -> str:
        """Ask the running draft to stop after its current try; what it kept stays in its partial log."""
        if self.job is not None and not self.job.done:
            self.job.stop.set()
        return progress_line(self.job)

    def progress(self) -> tuple[str, list[list], dict]:
        """(the tab's line, the rows kept so far, the job's record) for the poll."""
        job = self.job
        if job is None:
            return progress_line(None), [], {"running": False}
        record = job.record()  # before the rows: once it says done, every kept item is among them
        return progress_line(job), rows_of(list(job.items)), record

    def stem(self) -> Path:
        """Where the kept set and the report go: beside the latest draft, else under a new timestamp."""
        if self.job:
            return self.job.out.with_name(self.job.out.name.removesuffix(".jsonl"))
        return self.folder / datetime.now().strftime("%Y%m%d-%H%M%S")
