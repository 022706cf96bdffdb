"""One browser session's chat: its turns, the history the engine sees, and the HTML the window shows.

Example: chat = Conversation(); for _ in chat.ask(engines, "Why was the February trip called off?", "fast", 5): ...
  -> chat.turns[0].answer.citations[0].quote == "U.S. Secretary of State Antony Blinken will visit Beijing ..."
     chat.messages() -> [{"role": "user", "content": "Why was ..."}, {"role": "assistant", "content": "<div ...>"}]
Each turn is exactly two chat messages (question, answer), so message i belongs to turn i // 2. A question that
waits for an answer slot shows its place and an estimate in its answer message until its turn comes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import escape

from rag.answer.result import Answer, Found
from rag.errors import RagError
from rag.search.evidence import Evidence
from rag.ui import render
from rag.ui.slots import waiting_text
from rag.ui.warm import WarmEngines

PANELS_KEPT = 10  # evidence panels of the most recent answers kept in the page
WAIT_UPDATE_S = 1.0  # a waiting question's place and estimate are refreshed this often
log = logging.getLogger(__name__)


@dataclass
class Turn:
    question: str
    message: str = ""  # the assistant message as shown (HTML)
    panel: str = ""  # the evidence panel (HTML)
    answer: Answer | None = None
    error: str = ""  # what was shown instead of an answer
    waiting: dict | None = None  # while waiting for an answer slot: its place (rag.ui.slots.Place.public)


@dataclass
class Conversation:
    turns: list[Turn] = field(default_factory=list)

    def history(self) -> list[dict]:
        """Earlier exchanges as the engine wants them (turns that ended in an error are left out)."""
        pairs = [(t.question, t.answer.answer) for t in self.turns if t.answer is not None]
        return [m for q, a in pairs for m in ({"role": "user", "content": q}, {"role": "assistant", "content": a})]

    def messages(self) -> list[dict]:
        return [m for t in self.turns for m in ({"role": "user", "content": escape(t.question)},
                                                {"role": "assistant", "content": t.message})]

    def panels(self) -> str:
        """The evidence panels of recent answers; only the newest is visible until a citation asks for another."""
        shown = [(n, t) for n, t in enumerate(self.turns) if t.panel][-PANELS_KEPT:]
        newest = shown[-1][0] if shown else -1
        return "".join(f'<section class="turn-panel" data-turn="{n}"{"" if n == newest else " hidden"}>'
                       f"{t.panel}</section>" for n, t in shown) or render.EMPTY_PANEL

    def record(self) -> dict:
        """The newest turn as JSON: the engine's answer record, or the error shown instead."""
        if not self.turns:
            return {}
        turn = self.turns[-1]
        if turn.answer:
            return turn.answer.record()
        return {"question": turn.question, **({"error": turn.error} if turn.error else {}),
                **({"waiting": turn.waiting} if turn.waiting else {})}

    def turn_of_message(self, index: int) -> Turn | None:
        number = index // 2
        return self.turns[number] if 0 <= number < len(self.turns) else None

    def ask(self, engines: WarmEngines, question: str, model: str, evidence_k: int | None) -> Iterator[None]:
        """Add a turn and fill it in: yields after each visible change (loading, its place while it waits, each
        streamed piece, the result)."""
        turn = Turn(question)
        self.turns.append(turn)
        number = len(self.turns) - 1
        ticket = None
        try:
            if not engines.ready(model):
                turn.message = render.notice_message(f"Loading model {model} (first answer only)…", "waiting")
                yield
            engine = engines.get(model)
            ticket = engines.slots.join()
            timeout = 0.0  # the first look is at once: a question that has to wait says so straight away
            while not engines.slots.wait(ticket, timeout):
                place = engines.slots.place(ticket)
                turn.waiting = place.public()
                turn.message = render.notice_message(waiting_text(place), "waiting")
                yield
                timeout = WAIT_UPDATE_S
            turn.waiting = None
            turn.message = render.notice_message("Searching the documents…", "waiting")
            yield
            draft: list[str] = []
            with engines.generating(engine):
                for event in engine.stream(question, self.history(), evidence_k):
                    if isinstance(event, Answer):
                        turn.answer = event
                    elif isinstance(event, Found):  # the passages, before the model's first token (again on a 2nd look)
                        turn.panel = render.found_panel(event, question, number, lambda item: _document(engine, item))
                        turn.message = render.notice_message("Reading more passages…" if event.look > 1 else
                                                             "Passages found; writing the answer…", "waiting")
                        yield
                    else:
                        draft.append(event)
                        turn.message = render.streaming_message("".join(draft))
                        yield
        except RagError as exc:
            turn.error = str(exc)
            turn.message = render.notice_message(turn.error)
            yield
            return
        except Exception:
            log.exception("answering %r failed", question)
            turn.error = "Something went wrong answering this; the server log has the details."
            turn.message = render.notice_message(turn.error)
            yield
            return
        finally:  # also when the page went away while it waited (the generator is closed at its yield)
            if ticket is not None:
                engines.slots.leave(ticket, turn.answer.total_s if turn.answer else None)
        turn.message = render.answer_message(turn.answer, question, number)
        turn.panel = render.evidence_panel(turn.answer, question, number, lambda item: _document(engine, item))
        yield


def _document(engine, item: Evidence) -> str | None:
    try:
        return engine.pipeline.document_text(item)
    except OSError:  # the document was removed since it was indexed
        return None
