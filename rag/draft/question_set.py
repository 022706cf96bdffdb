"""Draft a whole eval set from the indexed documents: resumable after a kill, written whole at the end.

Example: draft_set(pipeline, llm, n=50, out=Path("mine.jsonl"))
  -> DraftReport(kept=50, tried=71, reasons={"the answer is not in the quote": 9, ...}, seconds=520.3)
     and mine.jsonl: 50 items in the format of evals/qa.jsonl ({"id": "g001", "question", "answers", "sources",
     "quotes", "type", "drafted": true, "passage": {...}, ...}), 10% of them unanswerable
Every attempt is appended to mine.jsonl.partial as it is made; a run started again with the same out skips the
passages already tried and keeps what was kept. The finished set replaces out in one rename.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rag.draft.checks import DraftChecks, draft_one
from rag.draft.passages import spread_passages
from rag.errors import BadInputError, RagError

# the answerable kinds asked for in turn; no "why": the default model's why-questions were answered with what the
# passage says rather than a reason (4 of 5 bad in the first reading, evals/runs/draft-review.md)
KINDS = ("factoid", "how", "factoid")
MAX_TRIES_PER_ITEM = 5  # passages tried per item wanted before giving up on a corpus
GARBAGE_AFTER = 8  # this many first replies that parse as nothing: the model cannot do the task


@dataclass
class DraftReport:
    kept: int = 0
    tried: int = 0
    reasons: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    out: Path | None = None
    resumed: int = 0  # kept by an earlier run of the same out (read from its partial log): not in seconds

    @property
    def per_minute(self) -> float:
        return 60 * (self.kept - self.resumed) / self.seconds if self.seconds else 0.0


class UnusableDrafter(RagError):
    """The model wrote nothing usable in its first tries; each caller says how to pick another model its own way."""

    def __init__(self, model: str, tries: int, partial: Path):
        self.model, self.partial = model, partial
        super().__init__(f"The model {model} returned no usable question in its first {tries} replies (see {partial}); "
                         f"try the default model")


def _read_partial(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut by a kill: what follows it was never written
    return records


def _write_whole(out: Path, items: list[dict]) -> None:
    temporary = out.with_name(out.name + ".tmp")
    temporary.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
    os.replace(temporary, out)


def draft_set(pipeline, llm, n: int, out: Path, unanswerable_share: float = 0.1, seed: int = 0,
              on_attempt: Callable[[DraftReport, dict | None], None] | None = None,
              should_stop: Callable[[], bool] | None = None, round_trip_answer: bool = False,
              kinds: tuple[str, ...] = KINDS) -> DraftReport:
    """Draft until n items are kept (or the passages run out); see the module docstring. on_attempt is called after
    each attempt with the report so far and the item kept (None if none); should_stop() ends the run early, the
    partial log kept for a later resume."""
    if n < 1:
        raise BadInputError(f"Ask for at least one question, not {n}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    records = _read_partial(partial)
    tried = {record["key"] for record in records}
    items = [record["item"] for record in records if record.get("item")]
    checks, report = DraftChecks(), DraftReport(kept=len(items), tried=len(records), out=out,
                                                 resumed=len(items))
    for item in items:
        checks.add(item)
    report.reasons.update(record["reason"] for record in records if not record.get("item"))
    wanted_unanswerable = round(n * unanswerable_share)
    period = max(2, round(1 / unanswerable_share)) if unanswerable_share > 0 else 0
    texts = [known[0] for record in pipeline.store.manifest().values()
             if (known := pipeline.document(record.file_hash)) is not None]
    began = time.perf_counter()
    with partial.open("a", encoding="utf-8") as log:
        for passage in spread_passages(pipeline, seed):
            if report.kept >= n or report.tried >= MAX_TRIES_PER_ITEM * n or (should_stop and should_stop()):
                break
            if passage.key in tried:
                continue
            unanswerable = sum(not item["answers"] for item in items)
            # every period-th try asks for an unanswerable question while they are short: they fail more often
            turn = period and report.tried % period == period - 1 and unanswerable < wanted_unanswerable
            kind = "unanswerable" if turn else kinds[report.tried % len(kinds)]
            result = draft_one(llm, pipeline, passage, kind, checks, texts, round_trip_answer)
            report.tried += 1
            if result.item:
                result.item = {"id": f"g{len(items) + 1:03d}", **result.item, "split": "dev"}
                items.append(result.item)
                checks.add(result.item)
                report.kept += 1
            else:
                report.reasons[result.reason] += 1
            log.write(json.dumps({"key": passage.key, "kind": kind, "item": result.item, "reason": result.reason,
                                  "reply": result.reply}, ensure_ascii=False) + "\n")
            log.flush()
            report.seconds = time.perf_counter() - began
            if on_attempt:
                on_attempt(report, result.item)
            if report.tried == GARBAGE_AFTER and report.kept == 0 and \
                    report.reasons["the reply is not a question, answer and quote"] >= GARBAGE_AFTER - 1:
                raise UnusableDrafter(llm.name, GARBAGE_AFTER, partial)
    report.seconds = time.perf_counter() - began
    finished = report.kept >= n or not (should_stop and should_stop())
    if finished:
        _write_whole(out, items[:n])
        partial.unlink(missing_ok=True)
    return report
