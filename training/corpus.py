"""The training corpus as the engine sees it: training/corpus (fetched by training.sources) indexed into its own
folder, never the app's index/ or an eval corpus's.

Example: pipeline = training_pipeline(); pipeline.index() -> IndexSummary(added=..., ...)
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
INDEX = HERE / "out" / "index"


def training_pipeline(model: str | None = None):
    from rag.config import load_settings
    from rag.errors import BadInputError
    from rag.pipeline import Pipeline

    if not CORPUS.is_dir() or not any(CORPUS.iterdir()):
        raise BadInputError(f"{CORPUS} is empty: fetch the training documents first (`python -m training.sources "
                            f"--out {CORPUS.relative_to(HERE.parent)}`)")
    return Pipeline(load_settings(seeds_dir=CORPUS, index_dir=INDEX, model=model))
