"""bench/scale.py keeps working as the pipeline changes: a tiny corpus indexed through it resumes without re-embedding,
and its report keeps the sizes measured on earlier runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def scale(monkeypatch, tmp_path, embedder):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import scale

    import rag.generate.models

    monkeypatch.setattr(scale, "OUT", tmp_path / "out")
    monkeypatch.setattr(rag.generate.models, "load_embedder", lambda *args, **kwargs: embedder)
    yield scale
    sys.modules.pop("scale", None)


def test_tiny_corpus_is_indexed_once_and_a_rerun_embeds_nothing(scale):
    size = 60
    settings = scale.settings_for(size)
    pool = scale.sentence_pool(ROOT / "seeds")
    files, written = scale.write_corpus(Path(settings.seeds_dir), pool, size, settings)
    assert written == files >= 2

    first = scale.index_size(size, settings)
    assert first["chunks"] == first["distinct_chunks"] >= size
    assert first["sessions"][0]["finished"] and first["sessions"][0]["embedded"] == first["chunks"]
    assert first["files"] == files

    assert scale.write_corpus(Path(settings.seeds_dir), pool, size, settings) == (files, 0)
    second = scale.index_size(size, settings)
    assert second["sessions"][-1]["embedded"] == 0
    assert second["chunks"] == first["chunks"]


def test_report_keeps_sizes_measured_on_an_earlier_run(tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from scale_report import write_report
    finally:
        sys.path.remove(str(ROOT / "bench"))
    earlier = json.loads((ROOT / "bench" / "scale_results.json").read_text())
    bench, out = tmp_path / "bench", tmp_path / "out"
    bench.mkdir()
    (bench / "scale_results.json").write_text(json.dumps({"1000": earlier["1000"]}))
    measured = out / "2000"  # measured now: the 1000 record under another size
    measured.mkdir(parents=True)
    for name in ("index", "probe", "probe_1thread"):
        (measured / f"{name}.json").write_text(json.dumps(earlier["1000"][name]))

    write_report(out, bench)

    assert sorted(json.loads((bench / "scale_results.json").read_text())) == ["1000", "2000"]
    report = (bench / "RESULTS.md").read_text()
    assert report.count("| 1,003 |") == 2 * 3  # both sizes in the indexing table and the two retrieval tables
    assert (bench / "scale_latency.png").stat().st_size > 0

