"""Crash safety and concurrency of `python -m rag index`, with real processes, real SIGKILLs and the real store.

Kill points: seen from outside on the progress bar (early, half way), or reached exactly by a test-only wrapper that
runs the real CLI with one chromadb Collection method patched to SIGKILL the process at its n-th call (after it,
half way through a delete, or while Chroma is writing). After each kill a fresh process audits the index
(tests/index_audit.py), then a re-run must complete, embedding only what was unfinished.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS, make_settings
from scripted_llm import ScriptedLLM

from rag.answer.engine import Engine
from rag.pipeline import Pipeline
from rag.read.readers import read_document

pytestmark = pytest.mark.slow  # subprocesses killed with SIGKILL

QUESTION = "Why was the February trip called off?"
REPLY = "It was called off after a Chinese weather balloon was spotted over U.S. airspace."
AUDIT = Path(__file__).with_name("index_audit.py")
SUMMARY = re.compile(r"files: (\d+) added, (\d+) updated, (\d+) removed, (\d+) unchanged; chunks: (\d+) added")
PROGRESS = re.compile(r"embedding:\s+\d+%\|[^|]*\|\s*(\d+)/(\d+)")

# Runs the real CLI with Collection.<method> patched: at its n-th call, do it ("after"), do half of it ("half": the
# first half of the ids) or start it with a kill already on its way from another process ("during"), then SIGKILL.
DYING = """
import os, signal, subprocess, sys
from chromadb.api.models.Collection import Collection
method, mode, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
original, calls = getattr(Collection, method), [0]
def dying(self, *args, **kwargs):
    calls[0] += 1
    if calls[0] != nth:
        return original(self, *args, **kwargs)
    if mode == "half":
        kwargs["ids"] = kwargs["ids"][: len(kwargs["ids"]) // 2]
    if mode == "during":  # another process sends the kill: this one may be inside Chroma's native code
        subprocess.Popen(["sh", "-c", f"sleep 0.01; kill -9 {os.getpid()}"])
    original(self, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
setattr(Collection, method, dying)
import rag.indexing.ingest
rag.indexing.ingest.COMMIT_CHUNKS = 1  # each file its own commit group, so the n-th call is the n-th file's (groups: test_ingest)
from rag.__main__ import main
sys.exit(main(sys.argv[4:]))
"""


# ---- the corpus and the processes -------------------------------------------------------------------------------------
def extra_text(k: int, revision: int = 0) -> str:
    """~40 chunks of numbered seed paragraphs: big enough that embedding it takes a few batches."""
    paragraphs = [p for path in sorted(SEEDS.glob("*.txt")) for p in path.read_text().split("\n\n") if len(p) > 80]
    return "\n\n".join(f"Report {k}.{revision}, part {i}. {paragraphs[(i * 7 + k) % len(paragraphs)]}" for i in range(50))


def make_corpus(tmp: Path):
    settings = make_settings(tmp)
    shutil.copytree(SEEDS, settings.seeds_dir)
    (settings.seeds_dir / "extra").mkdir()
    for k in range(2):
        (settings.seeds_dir / "extra" / f"report_{k}.txt").write_text(extra_text(k))
    return settings


def file_hashes(settings) -> dict[str, str]:
    root = Path(settings.seeds_dir)
    return {p.relative_to(root).as_posix(): read_document(p).file_hash for p in root.rglob("*.txt")}


def index_args(settings, *extra: str) -> list[str]:
    return ["index", "--seeds-dir", str(settings.seeds_dir), "--index-dir", str(settings.index_dir), *extra]


def run_index(settings) -> tuple[int, ...]:
    """A complete `index` run: (added, updated, removed, unchanged, chunks added)."""
    done = subprocess.run([sys.executable, "-m", "rag", *index_args(settings, "--quiet")], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return tuple(int(n) for n in SUMMARY.search(done.stdout).groups())


def watch_progress(process: subprocess.Popen, until) -> int:
    """Read the process's progress bar (tqdm on stderr, redrawn with \\r) until until(done, total); return done."""
    seen, deadline = "", time.monotonic() + 600
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], 1.0)
        if ready:
            block = os.read(process.stderr.fileno(), 65536)
            assert block, f"index ended before the awaited progress: {seen[-500:]!r}"
            seen += block.decode(errors="replace")
            marks = PROGRESS.findall(seen)
            if marks and until(int(marks[-1][0]), int(marks[-1][1])):
                return int(marks[-1][0])
    pytest.fail("no such progress within 600 s")


def start_index(settings) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rag", *index_args(settings)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def kill_at_progress(settings, fraction: float) -> None:
    """Start `index` and SIGKILL it once its progress bar shows more than `fraction` of the chunks embedded."""
    process = start_index(settings)
    try:
        watch_progress(process, lambda done, total: done > fraction * total)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.communicate()


def kill_at_call(settings, method: str, mode: str, nth: int) -> None:
    done = subprocess.run([sys.executable, "-c", DYING, method, mode, str(nth), *index_args(settings, "--quiet")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == -signal.SIGKILL, (done.returncode, done.stderr[-2000:])


def audit(settings) -> dict:
    done = subprocess.run([sys.executable, str(AUDIT), str(settings.seeds_dir), str(settings.index_dir)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def assert_consistent(found: dict) -> None:
    """The old state or the new per file, never half: complete records, exact offsets, no uncommitted evidence."""
    assert found["incomplete"] == [] and found["missing_texts"] == [], found
    assert found["offsets_wrong"] == found["evidence_offsets_wrong"] == 0, found
    assert found["vectors_without_metadata"] == 0 and found["returned_uncommitted"] == 0, found
    if found["records"]:
        assert found["answer"] and found["bm25"], "hybrid and BM25 retrieval both answer"


def assert_rerun_finishes_only_the_rest(settings, before: dict, record_property) -> dict:
    """Re-run: it embeds exactly the files not committed at their current version, then the index is whole."""
    current = file_hashes(settings)
    unfinished = {s for s, h in current.items() if before["records"].get(s, [None])[0] != h}
    added, updated, removed, unchanged, chunks = run_index(settings)
    after = audit(settings)
    # the outcome, for the report (pytest --junitxml keeps these properties)
    record_property("at_kill", {"files": len(before["records"]), "of": len(current), "chunks": before["chunks"],
                                "orphans": before["orphans"], "answer": before["answer"][:60]})
    record_property("rerun", {"files_embedded": added + updated, "chunks_embedded": chunks, "chunks": after["chunks"]})
    assert_consistent(after)
    assert (added + updated, removed, unchanged) == (len(unfinished), 0, len(current) - len(unfinished))
    assert chunks == sum(after["records"][s][1] for s in unfinished)
    assert set(after["records"]) == set(current) and after["orphans"] == 0
    assert after["chunks"] == sum(n for _, n in after["records"].values())
    assert "weather balloon" in after["answer"]
    return after


# ---- kills while indexing new files -----------------------------------------------------------------------------------
NEW_FILE_KILLS = [
    pytest.param(("progress", 0.0), id="seen-early-on-the-progress-bar"),
    pytest.param(("progress", 0.5), id="seen-half-way-on-the-progress-bar"),
    pytest.param(("add", "after", 3), id="after-3rd-files-chunks-before-its-record"),
    pytest.param(("add", "during", 2), id="while-chroma-writes-2nd-files-chunks"),
    pytest.param(("upsert", "after", 4), id="right-after-4th-files-record"),
]


@pytest.mark.parametrize("kill", NEW_FILE_KILLS)
def test_kill_while_indexing_new_files_leaves_a_consistent_index_and_a_rerun_finishes(tmp_path, kill, record_property):
    settings = make_corpus(tmp_path)
    if kill[0] == "progress":
        kill_at_progress(settings, kill[1])
    else:
        kill_at_call(settings, *kill)
    found = audit(settings)
    assert_consistent(found)
    assert len(found["records"]) < len(file_hashes(settings)), "the kill came before the end"
    if kill[:2] == ("add", "after"):
        assert found["orphans"] > 0, "chunks of the killed file are there, unrecorded, and never returned"
    assert_rerun_finishes_only_the_rest(settings, found, record_property)


# ---- kills while replacing changed files ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base_index(tmp_path_factory):
    """A complete index of the corpus, copied by each test that changes it."""
    tmp = tmp_path_factory.mktemp("base")
    settings = make_corpus(tmp)
    run_index(settings)
    return tmp


UPDATE_KILLS = [
    pytest.param(("add", "after", 1), id="after-new-chunks-before-the-new-record"),
    pytest.param(("upsert", "after", 1), id="after-the-new-record-before-old-chunks-go"),
    pytest.param(("delete", "half", 1), id="half-way-through-removing-old-chunks"),  # 1st delete: leftovers go only if found
]


@pytest.mark.parametrize("kill", UPDATE_KILLS)
def test_kill_while_replacing_a_changed_file_leaves_old_or_new_never_both(tmp_path, base_index, kill,
                                                                          record_property):
    shutil.copytree(base_index, tmp_path, dirs_exist_ok=True)
    settings = make_settings(tmp_path)
    old = file_hashes(settings)
    changed = ["extra/report_0.txt", "extra/report_1.txt"]
    for k, source in enumerate(changed):
        (settings.seeds_dir / source).write_text(extra_text(k, revision=1))
    new = file_hashes(settings)
    kill_at_call(settings, *kill)
    found = audit(settings)
    assert_consistent(found)
    versions = {source: found["records"][source][0] for source in changed}
    assert versions["extra/report_0.txt"] == (old if kill[0] == "add" else new)["extra/report_0.txt"]
    assert versions["extra/report_1.txt"] == old["extra/report_1.txt"], "the second file was not reached"
    assert found["orphans"] > 0, "the version left behind is there, and never returned"
    assert_rerun_finishes_only_the_rest(settings, found, record_property)


# ---- two processes --------------------------------------------------------------------------------------------------
def test_second_index_run_is_refused_while_the_first_completes(tmp_path):
    settings = make_corpus(tmp_path)
    first = start_index(settings)
    try:
        watch_progress(first, lambda done, total: True)  # its progress bar is up: it holds the lock
        began = time.monotonic()
        second = subprocess.run([sys.executable, "-m", "rag", *index_args(settings, "--quiet")], cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
        seconds = time.monotonic() - began
        out = first.communicate(timeout=600)[0].decode()
    finally:
        first.kill()
    assert second.returncode == 1 and second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
    assert second.stderr.startswith(f"error: Another `index` run is using {settings.index_dir}; wait for it")
    assert seconds < 5.0  # the bound for a clear message; measured 1.0-1.9 s (no model is loaded to refuse)
    assert first.returncode == 0 and SUMMARY.search(out).group(1) == str(len(file_hashes(settings)))
    found = audit(settings)
    assert_consistent(found)
    assert found["orphans"] == 0 and set(found["records"]) == set(file_hashes(settings))


def test_index_in_another_process_while_this_one_answers(tmp_path, embedder):
    """The chat window's Engine keeps answering while `python -m rag index` adds, changes and removes files in
    another process; afterwards this process sees the new state without a restart (Pipeline reopens the store when
    its version moved: Chroma's embedded client would otherwise keep its in-memory vector index, missing the new
    chunks and returning deleted ones without metadata)."""
    settings = make_corpus(tmp_path)
    pipeline = Pipeline(settings, embedder=embedder)
    pipeline.index(progress=False)
    engine = Engine(pipeline, ScriptedLLM())
    seeds = settings.seeds_dir
    (seeds / "extra" / "report_0.txt").write_text(extra_text(0, revision=1))  # changed
    (seeds / "extra" / "report_1.txt").unlink()  # removed
    (seeds / "zebra.txt").write_text("The zebra project has the codename Marmalade. It was approved in March 2021.")
    (seeds / "extra" / "report_2.txt").write_text(extra_text(2))  # added

    other = subprocess.Popen([sys.executable, "-m", "rag", *index_args(settings, "--quiet")], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    answers = 0
    while other.poll() is None:
        engine.llm.replies[:] = [REPLY]
        answer = engine.ask(QUESTION)
        assert not answer.refused and any("weather balloon" in c.quote for c in answer.citations)
        answers += 1
    out, err = other.communicate()
    assert other.returncode == 0 and "Traceback" not in err and "2 added, 1 updated, 1 removed" in out
    assert answers >= 2, "the answers overlapped the other process's run"

    dense = pipeline.evidence("What is the codename of the zebra project?", mode="dense")
    assert dense[0].source == "zebra.txt" and "Marmalade" in dense[0].text
    seen = [e for query in ("Report 0.0, part 5.", "Report 1.0, part 3.", "Report 2.0, part 7.")
            for e in pipeline.evidence(query, k=20, mode="dense")]
    assert "extra/report_1.txt" not in {e.source for e in seen}, "a removed file's chunks never come back"
    assert not any("Report 0.0," in e.text for e in seen), "nor the old version of a changed file"
    assert any(e.source == "extra/report_2.txt" for e in seen), "the added file is found by meaning"
    assert all(pipeline.document_text(e)[e.start:e.end] == e.text for e in seen)
    assert set(pipeline.store.manifest()) == set(file_hashes(settings))
