"""Requantized weights (RAG_WEIGHTS): the setting, the one-line error for weights not made, and a real requantization
of the bundled fast model to Q8_0 by llama.cpp's own quantizer, made through the real `python -m rag models` in a
cache folder of the test's own: the file loads and answers, and its stamp catches a changed file or a broken stamp.

Example: RAG_WEIGHTS=q8_0 with no file made -> ModelMissingError("Model fast in q8_0 weights (...) is not made: run
`python -m rag models --weights q8_0` ...")
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from rag.__main__ import main
from rag.config import load_settings
from rag.errors import ConfigError, ModelMissingError
from rag.generate import model_parts
from rag.generate.capture import library_path
from rag.generate.load import load_llm
from rag.generate.models import GGUF_MODELS, SHIPPED, WEIGHTS, file_sha256, gguf_path, model_file, stamp_file

LLAMA_FTYPE_MOSTLY_Q8_0 = "7"  # general.file_type in the GGUF's metadata


def test_a_bad_weights_value_is_one_config_error(monkeypatch):
    monkeypatch.setenv("RAG_WEIGHTS", "q5_k_m")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("Bad setting weights (RAG_WEIGHTS): ") and "\n" not in message


def test_every_format_the_models_command_offers_is_a_valid_setting():
    assert load_settings().weights == SHIPPED
    assert [load_settings(weights=weights).weights for weights in WEIGHTS] == list(WEIGHTS)


def test_weights_not_made_are_one_line_saying_how_to_make_them(tmp_path):
    settings = load_settings(model="fast", weights="q4_0", cache_dir=str(tmp_path))
    with pytest.raises(ModelMissingError) as caught:
        load_llm(settings)  # fails before llama.cpp is touched: nothing is requantized at run time
    message = str(caught.value)
    assert "is not made: run `python -m rag models --weights q4_0`" in message and "\n" not in message
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """A cache folder holding only the shipped fast model (a link to the set-up one) and its stamp."""
    shipped = gguf_path("fast", load_settings().cache_dir)
    folder = tmp_path_factory.mktemp("cache")
    (folder / shipped.name).symlink_to(shipped)
    shutil.copy(stamp_file(shipped), stamp_file(folder / shipped.name))
    return folder


@pytest.fixture(scope="module")
def made(cache) -> Path:
    """The fast model requantized to Q8_0 by the real command, as start.sh runs it with RAG_WEIGHTS=q8_0."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAG_CACHE_DIR", str(cache))
        patch.setenv("RAG_WEIGHTS", "q8_0")
        assert main(["models", "--model", "fast"]) == 0
    return model_file(GGUF_MODELS["fast"], cache, "q8_0")


@pytest.mark.llm
def test_requantized_q8_0_is_made_alone_stamped_and_loads(made, cache):
    spec = GGUF_MODELS["fast"]
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [spec.filename, stamp_file(Path(spec.filename)).name, made.name, stamp_file(made).name,
         library_path(cache).name])  # no q4_0, no partial; `models` also builds the hidden-state capture
    stamp = json.loads(stamp_file(made).read_text())
    assert stamp["sha256"] == file_sha256(made) and stamp["source_sha256"] == spec.sha256
    assert stamp["size"] == made.stat().st_size > spec.size  # 8 bits a weight against ~5
    backend = load_llm(load_settings(model="fast", weights="q8_0", cache_dir=str(cache)))
    assert backend.llm.metadata["general.file_type"] == LLAMA_FTYPE_MOSTLY_Q8_0
    reply = "".join(backend.stream([{"role": "user", "content": "What is the capital of France? One word."}], 8))
    assert "Paris" in reply


@pytest.mark.llm
def test_a_broken_or_foreign_stamp_is_not_trusted(made, cache):
    stamp = stamp_file(made)
    good = stamp.read_text()
    try:
        stamp.write_text(good[: len(good) // 2])
        with pytest.raises(ModelMissingError, match=r"does not match its sha256 stamp: run `python -m rag models --weights q8_0`"):
            gguf_path("fast", cache, "q8_0")
        stamp.write_text(json.dumps({**json.loads(good), "source_sha256": "0" * 64}))  # made from another file
        with pytest.raises(ModelMissingError, match="does not match its sha256 stamp"):
            gguf_path("fast", cache, "q8_0")
    finally:
        stamp.write_text(good)
    assert gguf_path("fast", cache, "q8_0") == made


@pytest.mark.llm
def test_a_touched_file_is_hashed_again_and_a_changed_one_is_made_again(made, cache):
    recorded = json.loads(stamp_file(made).read_text())["sha256"]
    os.utime(made, ns=(made.stat().st_atime_ns, made.stat().st_mtime_ns + 1_000_000_000))  # same bytes, new mtime
    assert gguf_path("fast", cache, "q8_0") == made
    assert json.loads(stamp_file(made).read_text())["mtime_ns"] == made.stat().st_mtime_ns  # re-stamped after hashing
    with made.open("r+b") as handle:  # one byte changed in the middle: same size, new mtime
        handle.seek(made.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelMissingError, match="does not match its sha256 stamp"):
        gguf_path("fast", cache, "q8_0")
    assert model_parts.prepare("fast", cache, "q8_0") == made
    assert file_sha256(made) == recorded  # llama.cpp's quantizer is deterministic: the same file as before
    assert gguf_path("fast", cache, "q8_0") == made
