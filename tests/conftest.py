"""Shared fixtures: a real Chroma store in a temp folder, indexed from a copy of seeds/ with the real embedder.

The bundled LLMs are loaded once per session, only by tests that ask for them (marked `llm`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.config import load_settings
from rag.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


def pytest_collection_modifyitems(items):
    """A test that runs a real language model or a browser is slow too: `-m "not slow"` leaves it out."""
    for item in items:
        if item.get_closest_marker("llm") or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)


def make_settings(tmp: Path, **overrides):
    """Settings for a test's own folders."""
    return load_settings(seeds_dir=str(tmp / "seeds"), index_dir=str(tmp / "index"), data_dir=str(tmp / "data"),
                         **overrides)


@pytest.fixture(scope="session")
def embedder():
    from rag.generate.models import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def seeded_pipeline(tmp_path_factory, embedder) -> Pipeline:
    """A pipeline over an index of the five seed articles (read-only for tests: copy it before changing files)."""
    tmp = tmp_path_factory.mktemp("seeded")
    shutil.copytree(SEEDS, tmp / "seeds")
    pipeline = Pipeline(make_settings(tmp), embedder=embedder)  # share the loaded model instead of loading it per pipeline
    pipeline.index(progress=False)
    return pipeline


@pytest.fixture
def fresh_pipeline(tmp_path, embedder):
    """A pipeline over an empty documents folder of this test's own."""
    (tmp_path / "seeds").mkdir()

    def build(**overrides) -> Pipeline:
        pipeline = Pipeline(make_settings(tmp_path, **overrides), embedder=embedder)
        return pipeline

    return build


@pytest.fixture(scope="session")
def fast_llm():
    from rag.generate.load import load_llm

    return load_llm(load_settings(model="fast"))


@pytest.fixture(scope="session")
def default_llm():
    """The default 1.5B model: for the behaviours users saw with it (loops, non-answers, hijacked questions)."""
    from rag.generate.load import load_llm

    return load_llm(load_settings(model="default"))
