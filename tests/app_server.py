"""The chat window served in-process for tests: a temp copy of seeds/, indexed with the real embedder, and the real
Engine, on a free 127.0.0.1 port (shared by test_app.py and test_browser.py)."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import SEEDS, make_settings

from rag.answer.engine import Engine
from rag.pipeline import Pipeline

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before anything imports gradio


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serve_app(tmp: Path, llm, embedder, **overrides) -> Iterator[tuple[str, Pipeline]]:
    """Yield (url, pipeline) of a running app over a fresh index of the seeds; close it afterwards."""
    shutil.copytree(SEEDS, tmp / "seeds")
    settings = make_settings(tmp, model="fast", port=free_port(), **overrides)
    pipeline = Pipeline(settings, embedder=embedder)
    pipeline.index(progress=False)
    with serve_demo(Engine(pipeline, llm), settings) as url:
        yield url, pipeline


@contextmanager
def serve_demo(engine, settings) -> Iterator[str]:
    """Yield the URL of the window around an Engine or WarmEngines, as settings say (port included); close it after."""
    from app import build_demo, launch

    demo = build_demo(engine, settings)
    _, url, _ = launch(demo, settings, prevent_thread_lock=True, quiet=True)
    try:
        yield url
    finally:
        demo.close()
