"""Thumbs up/down from the chat window, appended as one JSON line per rating to data_dir/feedback.jsonl.

Example: append_feedback(Path("data"), "Who met Xi?", answer, "up")
  -> data/feedback.jsonl gains {"time": "2025-...Z", "question": "Who met Xi?", "answer": "Blinken [1].",
                                "refused": false, "grounding": 1.0, "citations": [{"source": ...}], "rating": "up"}
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

from rag.answer.result import Answer

FEEDBACK_FILE = "feedback.jsonl"
_write_lock = threading.Lock()  # two ratings at once must not interleave their lines


def append_feedback(data_dir: Path, question: str, answer: Answer | None, rating: str, shown: str = "") -> dict:
    """Append one rating; `shown` is the message text when there was no Answer (an error shown instead)."""
    record = {
        "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "question": question,
        "answer": answer.answer if answer else shown,
        "refused": answer.refused if answer else None,
        "grounding": round(answer.grounding, 3) if answer else None,
        "citations": [c.public() for c in answer.citations] if answer else [],
        "rating": rating,
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    with _write_lock, open(data_dir / FEEDBACK_FILE, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return record
