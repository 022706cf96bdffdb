"""Load: concurrent chat sessions through gradio_client against the running chat window, on loopback only.

Usage: python bench/load.py [--sessions 20] [--questions 5] [--time-limit 1800] [--url http://127.0.0.1:7860/]
                            [--model fast|default | --model-url http://127.0.0.1:8080/v1] [--answer-slots 1]
                            [--out bench/out/load.json]
Without --url it starts `python app.py` on the bundled --model (fast by default) or, with --model-url, on that
OpenAI-compatible server (which you start beforehand on this machine), bound to 127.0.0.1 on a free port, over a
temp index of seeds/, with RAG_ANSWER_SLOTS=--answer-slots, and stops it afterwards; with --url it uses that app
(a non-loopback URL is refused). Each session is its own Client (its own conversation) in its own thread and asks
its own answerable questions from evals/qa.jsonl, one after the other, as a user would; they wait for the window's
answer slots. Counts errors (an exception, an error record, a timeout, or an answer that is not for the session's
own question), and reports p50/p95 latency per question, throughput, and the load average before and after.
Writes the JSON to --out and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evals.dataset import load_items  # noqa: E402
from rag.text import content_words  # noqa: E402

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Session:
    number: int
    questions: list[str]
    latencies: list[float] = field(default_factory=list)
    refused: int = 0
    errors: list[str] = field(default_factory=list)


def session_questions(sessions: int, per_session: int) -> list[list[str]]:
    """Answerable single-turn eval questions dealt out in turn, so sessions ask different ones (the pool of 77 wraps
    around after 77 questions, but never inside a session)."""
    pool = [item.question for item in load_items(ROOT / "evals" / "qa.jsonl") if item.answerable and not item.history]
    return [[pool[(s * per_session + j) % len(pool)] for j in range(per_session)] for s in range(sessions)]


def check_own(session: Session, asked: int, messages: list, record: dict) -> str | None:
    """Why this reply is not the answer to this session's own question, or None: the chat it shows is exactly this
    session's questions so far, and the question the record answered is built from this session's words."""
    shown = [unescape(m["content"][0]["text"]) for m in messages if m["role"] == "user"]
    if shown != session.questions[: asked + 1]:
        return f"chat shows other questions: {shown[-1][:80]!r}"
    if "error" in record:
        return f"error shown: {record['error'][:120]}"
    standalone = record.get("standalone_question", "")
    if asked == 0 and standalone != session.questions[0]:
        return f"answered {standalone[:80]!r}"
    own = set().union(*(content_words(q) for q in session.questions[: asked + 1]))
    if asked and not content_words(standalone) & own:  # a follow-up is rewritten with this session's history only
        return f"rewritten to {standalone[:80]!r}, no word of this session's questions"
    return None


def run_session(url: str, session: Session, deadline: float) -> None:
    from gradio_client import Client

    try:
        client = Client(url, verbose=False)
    except Exception as exc:  # a benchmark reports every failure as a counted error, whatever its type
        session.errors.append(f"connect: {type(exc).__name__}: {exc}")
        return
    for asked, question in enumerate(session.questions):
        left = deadline - time.monotonic()
        if left <= 0:
            session.errors.append(f"not asked before the time limit: {question[:60]!r}")
            continue
        began = time.monotonic()
        try:
            messages, _, _, record = client.submit(question, api_name="/chat").result(timeout=left)
        except Exception as exc:
            session.errors.append(f"{type(exc).__name__}: {str(exc)[:160]}")
            continue
        session.latencies.append(time.monotonic() - began)
        session.refused += bool(record.get("refused"))
        problem = check_own(session, asked, messages, record)
        if problem:
            session.errors.append(problem)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def loopback(url: str) -> str:
    if urlparse(url).hostname not in LOOPBACK:
        raise SystemExit(f"refusing {url}: this load test only talks to the local machine ({', '.join(sorted(LOOPBACK))})")
    return url


@contextmanager
def started_app(model: str = "fast", answer_slots: int = 1, timeout: float = 600):
    """`python app.py` on `model` (fast, or a server URL) at a free 127.0.0.1 port over a temp index of seeds/;
    yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    work = Path(tempfile.mkdtemp(prefix="load_"))
    env = {**os.environ, "RAG_MODEL": model, "RAG_ANSWER_SLOTS": str(answer_slots), "RAG_HOST": "127.0.0.1",
           "RAG_PORT": str(port), "RAG_SEEDS_DIR": str(ROOT / "seeds"), "RAG_INDEX_DIR": str(work / "index"),
           "RAG_DATA_DIR": str(work / "data"), "GRADIO_ANALYTICS_ENABLED": "False"}
    log = (work / "app.log").open("w")
    app = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if app.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the app did not start; its log: {(work / 'app.log').read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        app.terminate()
        app.wait(timeout=60)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def given_app(url: str):
    yield loopback(url) if url.endswith("/") else loopback(url) + "/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--questions", type=int, default=5, help="questions per session")
    parser.add_argument("--time-limit", type=float, default=1800, help="seconds for the whole run, warm-up excluded")
    parser.add_argument("--url", help="a running chat window on this machine (default: start one on the fast model)")
    parser.add_argument("--model", choices=["fast", "default"], default="fast", help="the bundled model of the window started")
    parser.add_argument("--model-url", help="start the window on this OpenAI-compatible server (on this machine)")
    parser.add_argument("--answer-slots", type=int, default=1, help="RAG_ANSWER_SLOTS of the window started")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "load.json")
    args = parser.parse_args()
    if not (1 <= args.sessions <= 64 and 1 <= args.questions <= 20):
        raise SystemExit("--sessions must be 1..64 (the window queues at most 64) and --questions 1..20")
    load_before = os.getloadavg()
    model = loopback(args.model_url) if args.model_url else args.model
    with given_app(args.url) if args.url else started_app(model, args.answer_slots) as url:
        from gradio_client import Client

        warm = time.monotonic()
        Client(url, verbose=False).predict("Who did Blinken meet in Beijing?", api_name="/chat")  # loads the model
        warm_s = time.monotonic() - warm
        sessions = [Session(n, qs) for n, qs in enumerate(session_questions(args.sessions, args.questions))]
        began = time.monotonic()
        deadline = began + args.time_limit
        threads = [threading.Thread(target=run_session, args=(url, s, deadline)) for s in sessions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - began
    report(args, sessions, wall, warm_s, load_before)


def report(args, sessions: list[Session], wall: float, warm_s: float, load_before: tuple[float, ...]) -> None:
    latencies = [x for s in sessions for x in s.latencies]
    errors = [f"session {s.number}: {e}" for s in sessions for e in s.errors]
    result = {
        "model": "given app" if args.url else args.model_url or args.model, "answer_slots": args.answer_slots,
        "sessions": args.sessions, "questions_per_session": args.questions, "asked": args.sessions * args.questions,
        "answered": len(latencies), "refused": sum(s.refused for s in sessions), "errors": len(errors),
        "error_list": errors[:50], "latency_p50_s": round(statistics.median(latencies), 2) if latencies else None,
        "latency_p95_s": round(percentile(latencies, 0.95), 2), "latency_max_s": round(max(latencies, default=0), 2),
        "wall_s": round(wall, 1), "answers_per_min": round(len(latencies) / wall * 60, 2),
        "seconds_per_answer": round(wall / max(len(latencies), 1), 2), "warm_up_s": round(warm_s, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(),
        "sessions_detail": [{k: v for k, v in asdict(s).items() if k != "questions"} for s in sessions],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    for key in ("model", "answer_slots", "sessions", "questions_per_session", "asked", "answered", "refused", "errors",
                "latency_p50_s", "latency_p95_s", "latency_max_s", "wall_s", "answers_per_min", "seconds_per_answer", "warm_up_s",
                "load_average_before", "load_average"):
        print(f"{key:>22}  {result[key]}")
    for line in errors[:10]:
        print("  " + re.sub(r"\s+", " ", line))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
