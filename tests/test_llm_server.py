"""The OpenAI-compatible URL backend against a real server: llama-cpp-python's own, serving the bundled 0.5B model
on 127.0.0.1, started and stopped by the test."""

import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from rag.answer.engine import Engine
from rag.config import load_settings
from rag.errors import BackendUnavailableError
from rag.generate.load import load_llm
from rag.generate.models import gguf_path
from rag.generate.server import OpenAIServerBackend

pytestmark = pytest.mark.llm


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    port = free_port()
    model = gguf_path("fast", load_settings().cache_dir)
    # llama.cpp logs tens of KB while loading: a file, not a pipe nobody reads, or the server blocks on a full pipe
    log = (tmp_path_factory.mktemp("server") / "server.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", "4096", "--n_threads", "2", "--model_alias", "fast"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"llama_cpp.server exited: {log.read()[-2000:]}")
            try:
                urllib.request.urlopen(f"{url}/v1/models", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("llama_cpp.server did not come up within 120 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_url_backend_streams_a_cited_answer(server_url, seeded_pipeline):
    llm = load_llm(load_settings(model=server_url, model_name="fast"))
    assert isinstance(llm, OpenAIServerBackend) and llm.url.endswith("/v1")
    pieces = list(Engine(seeded_pipeline, llm).stream("Which US ambassador was with Blinken at the basketball game?"))
    final = pieces[-1]
    assert len(pieces) > 2, "the answer arrives in pieces"
    assert final.ttft_s is not None and final.ttft_s <= final.total_s
    assert any("Burns" in e.text for e in final.evidence)
    # llama-cpp-python's server streams no log-probabilities (its model lacks logits_all) nor states: the backend
    # notices, and the word rules decide on the first look, and the record says why
    assert llm.logits == "none" and final.decision.signals.get("mean_logprob") is None
    record = final.record()["decision"]
    assert record["looks"] == 1 and "states cannot be read" in record["fallback"]


def test_unreachable_server_is_one_clear_error():
    began = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="check it is running"):  # at load: the server is probed
        load_llm(load_settings(model=f"http://127.0.0.1:{free_port()}/v1"))
    assert time.monotonic() - began < 30
