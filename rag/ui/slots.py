"""The window's answer slots: questions take them in arrival order, and a waiting one knows its place and about
when it starts, estimated from the running median of recent answers' durations.

Example: slots = AnswerSlots(1); slots.finished(18.0)     # one answer timed: 18 s
         first, second = slots.join(), slots.join(); slots.wait(first)   # the first one answers
         slots.place(second) -> Place(ahead=1, start_in_s=18.0, indexing=False)
         waiting_text(slots.place(second)) -> "Waiting: 1 question ahead of yours; yours should start in about 20 s."
Indexing takes every slot (`with slots.exclusive():`): it waits for the answers running, and no new one starts
until it is done.
"""

from __future__ import annotations

import heapq
import math
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

TIMED_KEPT = 20  # answers whose durations make the estimate: recent enough to follow a change of model or load


@dataclass(frozen=True)
class Place:
    ahead: int  # questions answering or waiting before this one
    start_in_s: float | None  # None until an answer has been timed
    indexing: bool  # documents are being indexed: no answer starts until that is done

    def public(self) -> dict:
        return {"ahead": self.ahead, "start_in_s": None if self.start_in_s is None else round(self.start_in_s, 1),
                "indexing": self.indexing}


class AnswerSlots:
    def __init__(self, slots: int = 1, kept: int = TIMED_KEPT, clock: Callable[[], float] = time.monotonic):
        self.slots = slots
        self.clock = clock
        self._changed = threading.Condition()
        self._waiting: list[int] = []  # tickets in arrival order
        self._running: dict[int, float] = {}  # ticket -> when it started (by clock)
        self._tickets = 0
        self._exclusive = 0  # indexing runs waiting or running; while any is, no answer starts
        self._indexing = False
        self._durations: deque[float] = deque(maxlen=kept)

    def join(self) -> int:
        """A ticket at the back of the line."""
        with self._changed:
            self._tickets += 1
            self._waiting.append(self._tickets)
            return self._tickets

    def wait(self, ticket: int, timeout: float | None = None) -> bool:
        """Start answering when the ticket is first in line and a slot is free; False if `timeout` passed first."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._may_start(ticket), timeout):
                return False
            self._waiting.remove(ticket)
            self._running[ticket] = self.clock()
            self._changed.notify_all()
            return True

    def _may_start(self, ticket: int) -> bool:
        return not self._exclusive and len(self._running) < self.slots and self._waiting[:1] == [ticket]

    def leave(self, ticket: int, answered_s: float | None = None) -> None:
        """Give the slot back (or leave the line); an answer's duration, when given, joins the estimate."""
        with self._changed:
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            self._running.pop(ticket, None)
            if answered_s is not None:
                self._durations.append(answered_s)
            self._changed.notify_all()

    def finished(self, answered_s: float) -> None:
        """Time one answer without a ticket (an answer made elsewhere)."""
        with self._changed:
            self._durations.append(answered_s)

    def place(self, ticket: int) -> Place:
        """Where a waiting ticket stands: how many are ahead of it, and when it should start."""
        with self._changed:
            ahead = self._waiting[: self._waiting.index(ticket)] if ticket in self._waiting else []
            return Place(len(self._running) + len(ahead), self._start_in(len(ahead)), self._exclusive > 0)

    def _start_in(self, waiting_ahead: int) -> float | None:
        """Seconds until a slot is free for the one behind `waiting_ahead` others: each running answer takes the
        median duration from its start (or has just overrun it), then each one waiting ahead takes the median."""
        if not self._durations:
            return None
        typical, now = statistics.median(self._durations), self.clock()
        free = [max(typical - (now - began), 0.0) for began in self._running.values()]
        free += [0.0] * max(self.slots - len(free), 0)
        heapq.heapify(free)
        for _ in range(waiting_ahead):
            heapq.heappush(free, heapq.heappop(free) + typical)
        return free[0]

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Every slot, for an index run: waits for the answers running; answers waiting start after it."""
        with self._changed:
            self._exclusive += 1
            self._changed.wait_for(lambda: not self._running and not self._indexing)
            self._indexing = True
        try:
            yield
        finally:
            with self._changed:
                self._indexing = False
                self._exclusive -= 1
                self._changed.notify_all()


def waiting_text(place: Place) -> str:
    """What a waiting user reads in the chat."""
    ahead = f"{place.ahead} question{'s' * (place.ahead != 1)} ahead of yours"
    if place.indexing:
        return f"Waiting: documents are being indexed, then {ahead}."
    if place.start_in_s is None:
        return f"Waiting: {ahead} (the first answer is being timed)."
    return f"Waiting: {ahead}; yours should start in about {_rounded(place.start_in_s)}."


def _rounded(seconds: float) -> str:
    if seconds < 90:
        return f"{max(5, 5 * math.ceil(seconds / 5))} s"
    return f"{round(seconds / 60)} min"
