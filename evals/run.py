"""Run the eval items through a pipeline and yield one JSON record per item.

Example: for record in answer_records(engine.ask, items): print(record["id"], record["refused"])
  -> q001 False ...   (the `python -m rag ask --json` record plus id, question, type, pipeline)
retrieval_records() is the no-LLM pass: the chunks' sources and the evidence sentences for each question.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from evals.dataset import Item, retrieval_query
from rag.errors import RagError
from rag.read.readers import read_document


def _tagged(item: Item, pipeline: str, record: dict) -> dict:
    return {"id": item.id, "question": item.question, "type": item.type, "pipeline": pipeline, **record}


class ProgressLog:
    """Each finished answer record, appended and flushed as it arrives, so a long run (the starter baseline takes
    over a minute a question on 2 cores) that is interrupted keeps its work: `--resume` reads it back.

    Example: log = ProgressLog(out / "progress-ours-default.jsonl", resume=True); log.done -> {"q001": {...}, ...}
    """

    def __init__(self, path: Path, resume: bool):
        self.path = path
        self.done: dict[str, dict] = {}
        if resume and path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # the line being written when the run was killed
                self.done[record["id"]] = record
        # rewrite what was kept (dropping a torn last line), or start empty when not resuming
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.done.values()), encoding="utf-8")

    def append(self, record: dict) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.done[record["id"]] = record


def log_name(model: str) -> str:
    """A file-name-safe form of the model setting (default, fast or a server URL)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("_") or "model"


def answer_records(ask: Callable[[str, list[dict]], dict], items: Sequence[Item], pipeline: str = "ours",
                   progress: bool = True, log: ProgressLog | None = None) -> Iterator[dict]:
    """ask(question, history) -> record for each item; a RagError (bad input, backend down for one question)
    becomes a record with "error" set, scored as a wrong answer, rather than ending the run. With a log, items it
    already holds are not asked again and each new record is appended to it as soon as it is made."""
    from tqdm import tqdm

    done = log.done if log else {}
    todo = [item for item in items if item.id not in done]
    answered: dict[str, dict] = {}
    for item in tqdm(todo, desc=pipeline, unit="q", disable=not progress, initial=len(items) - len(todo),
                     total=len(items)):
        began = time.perf_counter()
        try:
            record = ask(item.question, item.history)
        except RagError as exc:
            record = {"answer": "", "refused": False, "citations": [], "retrieved": [], "error": str(exc),
                      "total_s": round(time.perf_counter() - began, 3), "ttft_s": None}
        answered[item.id] = _tagged(item, pipeline, record)
        if log:
            log.append(answered[item.id])
    for item in items:
        yield done.get(item.id) or answered[item.id]


def engine_ask(engine) -> Callable[[str, list[dict]], dict]:
    """Our engine as an ask() function: its record plus, for a refusal, why and the withheld draft (for the report)."""
    def ask(question: str, history: list[dict]) -> dict:
        answer = engine.ask(question, history)
        return {**answer.record(), "refusal_reason": answer.refusal_reason, "draft": answer.draft or None}

    return ask


def retrieval_records(pipeline, items: Sequence[Item], count_tokens, progress: bool = True) -> Iterator[dict]:
    """Hybrid chunk retrieval, the ranked passages and the looks the model would read (fitted by count_tokens, as
    the engine fits them) for each item's retrieval query (no LLM: a follow-up is joined to its last user turn, see
    evals.dataset.retrieval_query). "looks" holds how many of the ranked passages each look shows."""
    from tqdm import tqdm

    from rag.answer.engine import SAFETY_TOKENS
    from rag.answer.looks import fit_looks

    settings = pipeline.settings
    window = settings.n_ctx - settings.max_tokens - SAFETY_TOKENS
    for item in tqdm(items, desc="retrieval", unit="q", disable=not progress):
        query = retrieval_query(item)
        began = time.perf_counter()
        chunks = pipeline.retriever.retrieve(query, mode="hybrid")
        evidence = pipeline.select(query, chunks)
        seconds = time.perf_counter() - began
        looks = fit_looks(query, evidence, count_tokens, (settings.evidence_tokens, settings.second_look_tokens),
                          window, k=settings.evidence_k) if evidence else []
        shown = looks[-1].passages if looks else []
        yield _tagged(item, "ours", {
            "query": query, "retrieved": list(dict.fromkeys(c.node.metadata["source"] for c in chunks)),
            "chunks": [{"source": c.node.metadata["source"], "text": c.node.text} for c in chunks],
            "evidence": [{**e.public(), "header": e.header()} for e in shown + [e for e in evidence if e not in shown]],
            "looks": [len(look.passages) for look in looks], "look_tokens": [look.tokens for look in looks],
            "retrieval_s": round(seconds, 4)})


def document_texts(records: Sequence[dict], seeds_dir: Path) -> dict[str, str]:
    """source -> the text its citation and passage offsets index (the file as read; extracted text for html/pdf/docx)."""
    texts: dict[str, str] = {}
    for source in {c["source"] for r in records for c in (r.get("citations") or []) + (r.get("passages") or [])}:
        path = Path(seeds_dir) / source
        try:
            texts[source] = read_document(path).text
        except (RagError, OSError):
            continue  # a quote into a missing file cannot be exact; quote_is_exact() reports it as such
    return texts
