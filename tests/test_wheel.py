"""The package as `pip install .` makes it: the wheel is built from the tracked files, installed into a fresh virtual
environment outside the checkout, and its `rag` command indexes a folder of an HTML, a PDF, a DOCX and a text file,
retrieves from each and answers with the fast model. A module or a data file left out of the wheel (the readers in
rag/read/formats/, the ranker's weights, the decision files) fails here, not on a user's machine.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pdf_maker import Text, make_pdf

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.llm]

FACTS = {  # file -> (question, a word of the answer)
    "ferry.html": ("How many cars does the Kestrel ferry carry?", "forty"),
    "boiler.pdf": ("How often must the Quillon boiler be descaled?", "fortnight"),
    "garden.docx": ("Which fertiliser does the Marrow garden use?", "seaweed"),
    "notes.txt": ("Who founded the Larkspur choir?", "Odile"),
}


def write_documents(folder: Path) -> None:
    import docx

    folder.mkdir()
    (folder / "ferry.html").write_text(
        "<html><head><title>Kestrel ferry</title></head><body><h1>Kestrel ferry</h1>"
        "<p>The Kestrel ferry carries forty cars and crosses the sound every hour.</p></body></html>")
    (folder / "boiler.pdf").write_bytes(make_pdf([[Text(72, 700, "Quillon boiler care"),
                                                   Text(72, 680, "The Quillon boiler must be descaled every fortnight.")]],
                                                 title="Quillon boiler"))
    document = docx.Document()
    document.add_heading("Marrow garden", 1)
    document.add_paragraph("The Marrow garden uses seaweed fertiliser on every bed.")
    buffer = io.BytesIO()
    document.save(buffer)
    (folder / "garden.docx").write_bytes(buffer.getvalue())
    (folder / "notes.txt").write_text("Choir notes.\n\nThe Larkspur choir was founded by Odile Marchetti in 1987.\n")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A virtual environment outside the checkout with the built wheel installed (its dependencies come from this
    environment's site-packages, so nothing is downloaded) -> the folder holding its `rag` command."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # the tracked files only: what a clean clone builds
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in filter(None, tracked.split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp / "dist"),
                    str(source)], check=True, cwd=tmp)
    wheel = next((tmp / "dist").glob("offline_rag-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python3*/site-packages"))
    (site / "dependencies.pth").write_text(
        "\n".join(p for p in sys.path if p.endswith("site-packages")) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
                    "--no-index", "-q", str(wheel)], check=True)
    return venv / "bin"


def rag(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    return subprocess.run([str(bin_dir / "rag"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_installed_wheel_indexes_retrieves_and_answers_outside_the_checkout(installed, tmp_path):
    where = subprocess.run([str(installed / "python"), "-c", "import rag.read.formats.pdf_text as m; print(m.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert str(ROOT) not in where and "site-packages" in where, "the installed package, not the checkout"
    docs, index = tmp_path / "docs", tmp_path / "index"
    write_documents(docs)
    folders = ("--seeds-dir", str(docs), "--index-dir", str(index))
    indexed = rag(installed, tmp_path, "index", "--quiet", *folders)
    assert indexed.returncode == 0, indexed.stderr
    assert "4 added" in indexed.stdout and "skipped" not in indexed.stdout
    for name, (question, word) in FACTS.items():
        found = rag(installed, tmp_path, "retrieve", question, "--json", *folders)
        assert found.returncode == 0, found.stderr
        best = json.loads(found.stdout)[0]
        assert best["source"] == name and word in best["text"]
    asked = rag(installed, tmp_path, "ask", FACTS["notes.txt"][0], "--model", "fast", "--json", *folders)
    assert asked.returncode == 0, asked.stderr
    record = json.loads(asked.stdout)
    assert record["retrieved"][0] == "notes.txt"
    assert record["evidence_order"] == "trained ranker", "the ranker's weights are in the wheel"
    assert "has no probes" in record["decision"]["fallback"], "the fast model's decision file is in the wheel"
    assert not record["refused"] and "Odile" in record["answer"]
