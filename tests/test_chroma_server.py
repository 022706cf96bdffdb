"""Chroma server mode end to end: a real `chroma run` on 127.0.0.1, started and stopped here; `index`, `retrieve` and
`ask` through the CLI and the chat window through gradio_client give what the embedded store gives."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from app_server import free_port, serve_app
from conftest import ROOT, SEEDS, make_settings
from test_app import chat

from rag.answer.engine import Engine
from rag.errors import StoreUnavailableError
from rag.indexing.store import ChunkStore

pytestmark = pytest.mark.slow  # a real `chroma run` server

QUESTION = "Why was the February trip called off?"


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    """(host, port) of a `chroma run` over a temp folder; the server is killed when the module's tests are done."""
    chroma = Path(sys.executable).parent / "chroma"  # the CLI that ships with chromadb, in this virtualenv
    assert chroma.exists(), f"{chroma} is missing: install chromadb (requirements.txt)"
    tmp = tmp_path_factory.mktemp("chroma_server")
    port = free_port()
    log = (tmp / "server.log").open("w+")  # a file, not a pipe nobody reads
    process = subprocess.Popen([str(chroma), "run", "--path", str(tmp / "data"), "--host", "127.0.0.1", "--port", str(port)],
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"chroma run did not come up within 60 s: {log.read()[-2000:]}")
                time.sleep(0.3)
        yield "127.0.0.1", port
    finally:
        process.kill()
        process.wait(timeout=30)
        log.close()


def cli(args: list[str], tmp: Path, server: tuple[str, int], **env: str) -> subprocess.CompletedProcess:
    """`python -m rag ARGS` over tmp/seeds and tmp/index with RAG_CHROMA_HOST/PORT pointing at the server."""
    environment = {**os.environ, "RAG_SEEDS_DIR": str(tmp / "seeds"), "RAG_INDEX_DIR": str(tmp / "index"),
                   "RAG_CHROMA_HOST": server[0], "RAG_CHROMA_PORT": str(server[1]), **env}
    return subprocess.run([sys.executable, "-m", "rag", *args], cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def indexed_on_server(chroma_server, tmp_path_factory) -> Path:
    """A copy of the seeds indexed into the server by `python -m rag index` (collection rag_chunks)."""
    tmp = tmp_path_factory.mktemp("cli")
    shutil.copytree(SEEDS, tmp / "seeds")
    done = cli(["index", "--quiet"], tmp, chroma_server)
    assert done.returncode == 0, done.stderr
    assert "5 added" in done.stdout
    return tmp


def test_index_writes_into_the_server_not_the_index_folder(chroma_server, indexed_on_server, capsys):
    import chromadb

    from rag.__main__ import main

    client = chromadb.HttpClient(host=chroma_server[0], port=chroma_server[1])
    assert client.get_collection("rag_chunks_files").count() == 5
    assert client.get_collection("rag_chunks").count() > 5
    assert not (indexed_on_server / "index" / "chroma").exists(), "nothing embedded was opened"
    code = main(["index", "--quiet", "--seeds-dir", str(indexed_on_server / "seeds"), "--index-dir",
                 str(indexed_on_server / "index"), "--chroma-host", chroma_server[0], "--chroma-port", str(chroma_server[1])])
    assert code == 0 and "5 unchanged" in capsys.readouterr().out  # the flags route, in-process: the file records are read back


def test_retrieve_over_the_server_matches_the_embedded_store(chroma_server, indexed_on_server, seeded_pipeline):
    done = cli(["retrieve", QUESTION, "--json"], indexed_on_server, chroma_server)
    assert done.returncode == 0, done.stderr
    served = json.loads(done.stdout)
    embedded = [item.public() for item in seeded_pipeline.evidence(QUESTION)]
    assert [(e["source"], e["start"], e["end"], e["text"]) for e in served] == \
           [(e["source"], e["start"], e["end"], e["text"]) for e in embedded]
    assert [e["score"] for e in served] == pytest.approx([e["score"] for e in embedded], abs=1e-3)


@pytest.mark.llm
def test_ask_over_the_server_cites_the_same_evidence(chroma_server, indexed_on_server, seeded_pipeline, fast_llm):
    done = cli(["ask", QUESTION, "--json"], indexed_on_server, chroma_server, RAG_MODEL="fast")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["refused"] or record["citations"]  # whatever the small model says, it ends verified or refused
    texts = {path.name: path.read_text(encoding="utf-8") for path in SEEDS.iterdir()}
    for citation in record["citations"]:
        assert texts[citation["source"]][citation["start"]:citation["end"]] == citation["quote"]
    # the server's store gives the passages the embedded store gives: the same first look (the fast model reads one)
    read = Engine(seeded_pipeline, fast_llm).looks(QUESTION, seeded_pipeline.evidence(QUESTION))[0].passages
    assert [(p["source"], p["start"], p["end"]) for p in record["passages"]] == [(e.source, e.start, e.end) for e in read]


@pytest.mark.llm
def test_chat_window_over_the_server_uploads_answers_and_removes(chroma_server, tmp_path, fast_llm, embedder):
    import chromadb
    from gradio_client import Client, handle_file

    server = chromadb.HttpClient(host=chroma_server[0], port=chroma_server[1])
    overrides = {"chroma_host": chroma_server[0], "chroma_port": chroma_server[1], "collection": "ui_chunks"}
    with serve_app(tmp_path / "app", fast_llm, embedder, **overrides) as (url, pipeline):
        assert server.get_collection("ui_chunks_files").count() == 5
        client = Client(url, verbose=False)
        notes = tmp_path / "zebra_notes.txt"
        notes.write_text("Project notes.\n\nThe zebra project has the codename Marmalade. It was approved in March 2021 "
                         "by the board of the Larkspur Institute.\n")
        _, _, log, _ = client.predict([handle_file(str(notes))], api_name="/upload")
        assert "1 added" in log
        assert "zebra_notes.txt" in server.get_collection("ui_chunks_files").get()["ids"]
        _, _, record = chat(client, "What is the codename of the zebra project?")
        assert not record["refused"] and "Marmalade" in record["answer"]
        assert {c["source"] for c in record["citations"]} == {"zebra_notes.txt"}
        _, _, log = client.predict("zebra_notes.txt", api_name="/remove")
        assert "1 removed" in log
        assert "zebra_notes.txt" not in server.get_collection("ui_chunks_files").get()["ids"]
        assert pipeline.settings.uses_chroma_server


def test_unreachable_server_is_one_clear_error(tmp_path, capsys):
    from rag.__main__ import main

    port = free_port()  # nothing listens here
    with pytest.raises(StoreUnavailableError, match=f"The Chroma server at 127.0.0.1:{port} does not answer"):
        ChunkStore(make_settings(tmp_path, chroma_host="127.0.0.1", chroma_port=port)).require_index()
    code = main(["retrieve", QUESTION, "--chroma-host", "127.0.0.1", "--chroma-port", str(port),
                 "--index-dir", str(tmp_path / "index")])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: The Chroma server at") and "chroma run --path" in err
    assert "Traceback" not in err
