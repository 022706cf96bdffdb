"""The drafted questions' table and its run: rows from drafted items and back to eval items, then the kept ones
answered by the window's engine (each in an answer slot, as a chat answer) and scored as `python -m evals` does.

Example: rows_of([{"id": "g001", "question": "Why was the trip called off?", "answers": ["a weather balloon"], ...}])
           -> [[True, "Why was the trip called off?", "a weather balloon", "A Chinese weather balloon ...",
                "000_7e71d6686ee625e3.txt", "why", "g001"]]
         items_of([[True, "Why was the trip called off?", "a weather balloon", "A Chinese weather balloon ...",
                    "000_7e71d6686ee625e3.txt", "why", "g001"], [False, "Who ...?", ...]])
           -> [Item(id="g001", question="Why was the trip called off?", answers=["a weather balloon"], ...)]
         for view in run_kept(engines, "default", rows, Path("data/drafts/20250101-120000")): ...
           -> RunView("Answering 1 of 8…"), ..., then RunView(
                summary="Accuracy 0.750: 6 of 8 right · unanswerable refused: 1 of 1 · false refusals: 1 of 7\\n...",
                rows=[["g001", "Why was the trip called off?", "right", "a weather balloon", "It was ... [1]."], ...],
                plot=<PIL image: accuracy by type>, record={"n": 8, "right": 6, "kept_file": "...", ...})
The kept rows, edits included, go first to <stem>.kept.jsonl in the format of evals/qa.jsonl, so
`python -m evals --dataset <stem>.kept.jsonl --seeds-dir DIR` runs the same set later; the plots go to <stem>.report/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from evals import plots
from evals.dataset import Item
from evals.report import fmt
from evals.run import answer_records, document_texts, engine_ask
from evals.summary import summarise_answers
from rag.draft.checks import question_type
from rag.errors import BadInputError, RagError
from rag.ui.warm import WarmEngines

COLUMNS = ["keep", "question", "answer", "quote", "source", "type", "id"]  # the drafted questions' table
REPORT_COLUMNS = ["id", "question", "result", "expected", "answer given"]
NO_ANSWER = "(not in the documents)"
_TICKED = {"true", "1", "yes", "x", "✓"}


@dataclass
class RunView:
    summary: str
    rows: list[list] = field(default_factory=list)
    plot: object | None = None  # a PIL image of accuracy by question type
    record: dict = field(default_factory=dict)


@contextmanager
def answer_slot(engines: WarmEngines, engine) -> Iterator[None]:
    """An answer slot in arrival order, then the model itself (an in-process one serves one thread), as an answer."""
    ticket = engines.slots.join()
    try:
        engines.slots.wait(ticket)
        with engines.generating(engine):
            yield
    finally:
        engines.slots.leave(ticket)


def rows_of(items: list[dict]) -> list[list]:
    """The table's rows: keep, question, answer, quote, source, type, id."""
    return [[True, item["question"], " | ".join(item["answers"]), (item["quotes"] or [""])[0],
             (item["sources"] or [""])[0], item["type"], item["id"]] for item in items]


def ticked(value) -> bool:
    return value is True or str(value).strip().lower() in _TICKED


def items_of(rows: Sequence[Sequence]) -> list[Item]:
    """The ticked rows as eval items; an empty answer makes a row unanswerable, "a | b" gives two accepted answers."""
    items: list[Item] = []
    for number, row in enumerate(rows, 1):
        if len(row) < len(COLUMNS) or not ticked(row[0]):
            continue
        _, question, answer, quote, source, kind, item_id = ("" if cell is None else str(cell).strip()
                                                             for cell in row[:len(COLUMNS)])
        if not question:
            raise BadInputError(f"Row {number} has no question: type one, or untick it")
        answers = [part.strip() for part in answer.split("|") if part.strip()]
        if not answers:
            kind = "unanswerable"
        elif kind in ("", "unanswerable"):  # an answer typed into an unanswerable row
            kind = question_type(question)
        item_id = item_id if item_id and item_id not in {i.id for i in items} else f"row{number:03d}"
        items.append(Item(id=item_id, question=question, answers=answers, sources=[source] if answers and source else [],
                          quotes=[quote] if answers and quote else [], type=kind))
    if not items:
        raise BadInputError("Nothing to run: tick keep on at least one drafted question")
    return items


def write_kept(items: Sequence[Item], path: Path) -> Path:
    """The items as JSON lines in the format of evals/qa.jsonl (drafted: true), for `python -m evals --dataset`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"id": i.id, "question": i.question, "answers": i.answers, "sources": i.sources,
                         "quotes": i.quotes, "type": i.type, "history": i.history, "split": i.split, "drafted": True},
                        ensure_ascii=False) + "\n" for i in items]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def run_kept(engines: WarmEngines, model: str, rows: Sequence[Sequence] | None, stem: Path) -> Iterator[RunView]:
    """Answer each kept row with `model`'s engine, one answer slot each, yielding progress and then the report; a
    problem (nothing kept, the model not loading, an unwritable folder) is one line."""
    try:
        items = items_of(rows or [])
        kept = write_kept(items, stem.with_name(stem.name + ".kept.jsonl"))
        if not engines.ready(model):
            yield RunView(f"Loading model {model}…", record={"running": True, "kept_file": str(kept)})
        engine = engines.get(model)
        ask = engine_ask(engine)

        def in_turn(question: str, history: list[dict]) -> dict:
            with answer_slot(engines, engine):
                return ask(question, history)

        records: list[dict] = []
        for number, item in enumerate(items, 1):
            yield RunView(f"Answering {number} of {len(items)}…", record={"running": True, "answered": number - 1,
                                                                          "kept_file": str(kept)})
            records += answer_records(in_turn, [item], progress=False)
        yield report(items, records, engines.pipeline, kept, stem.with_name(stem.name + ".report"))
    except RagError as exc:
        yield RunView(" ".join(str(exc).split()), record={"error": str(exc)})
    except OSError as exc:
        yield RunView(f"Cannot write beside {stem}: {exc.strerror or exc}", record={"error": str(exc)})


def report(items: Sequence[Item], records: Sequence[dict], pipeline, kept: Path, plots_dir: Path) -> RunView:
    """Scores (evals.summary), the figures line, the per-item table and the accuracy-by-type plot (evals.plots)."""
    summary = summarise_answers(items, records, document_texts(records, pipeline.settings.seeds_dir))
    scores, overall = summary["scores"], summary["overall"]
    answerable = [s for s in scores if s["answerable"]]
    unanswerable = [s for s in scores if not s["answerable"]]
    counts = {"n": len(scores), "right": sum(s["accurate"] for s in scores), "answerable": len(answerable),
              "false_refusals": sum(s["refused"] for s in answerable), "unanswerable": len(unanswerable),
              "refused_unanswerable": sum(s["refused"] for s in unanswerable)}
    line = (f"Accuracy {fmt(overall['accuracy'])}: {counts['right']} of {counts['n']} right · unanswerable refused: "
            f"{counts['refused_unanswerable']} of {counts['unanswerable']} · false refusals: "
            f"{counts['false_refusals']} of {counts['answerable']} answerable\nKept set: {kept} (later: python -m evals "
            f"--dataset {kept} --seeds-dir {pipeline.settings.seeds_dir})")
    table = [[item.id, item.question, "right" if s["accurate"] else "wrong", " | ".join(item.answers) or NO_ANSWER,
              f"error: {r['error']}" if r.get("error") else r.get("answer", "")]
             for item, s, r in zip(items, scores, records, strict=True)]
    plots_dir.mkdir(parents=True, exist_ok=True)
    plots.answer_plots({"ours": summary}, plots_dir)
    record = {**counts, **{k: overall[k] for k in ("accuracy", "refusal_rate", "false_refusal_rate")},
              "kept_file": str(kept), "plots": str(plots_dir),
              "items": [{"id": row[0], "question": row[1], "right": s["accurate"], "refused": s["refused"],
                         "answer": row[4]} for row, s in zip(table, scores, strict=True)]}
    return RunView(line, table, _image(plots_dir / "accuracy_by_type.png"), record)


def _image(path: Path):
    """The plot as an image object: Gradio serves it from its own cache, not from the data folder."""
    from PIL import Image

    with Image.open(path) as image:
        return image.copy()
