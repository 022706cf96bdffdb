"""Outlines of real readers' output: evidence units never cross a block and are never dangling fragments, every unit is
an exact slice of the text, and every block knows the headings above it."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.read.outline import MIN_UNIT_WORDS, Outline, outline, section_paths
from rag.read.readers import read_document

SEEDS = Path(__file__).resolve().parents[1] / "seeds"

GUIDE = """<html><head><title>Server guide</title></head><body>
<nav><a href="/">Home</a> | <a href="/next">Next</a></nav>
<h1>Server guide</h1>
<h2>Configuration</h2>
<p>The default port is <code>8080</code>, unless <em>RAG_PORT</em> is set. Yes.
There is an optional timeout setting. Its default is 30 seconds.</p>
<h3>Logging</h3>
<ul><li>Logs go to <a href="#f">the log file</a> by default.</li><li>Rotation happens daily.</li></ul>
<h2>Limits</h2>
<table><tr><th>Option</th><th>Default</th></tr><tr><td><code>max_clients</code></td><td>64</td></tr></table>
</body></html>"""


def read(tmp_path: Path, name: str, content: str):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return read_document(path)


def texts(doc, shape: Outline) -> list[str]:
    return [doc.text[u.start:u.end] for u in shape.units]


def test_inline_code_stays_in_its_sentence_and_short_sentences_join_a_neighbour(tmp_path):
    doc = read(tmp_path, "guide.html", GUIDE)
    shape = outline(doc)
    units = texts(doc, shape)
    assert "The default port is 8080, unless RAG_PORT is set. Yes." in units  # "Yes." alone would be a fragment
    assert "There is an optional timeout setting." in units and "Its default is 30 seconds." in units
    assert all(len(u.split()) >= MIN_UNIT_WORDS for u in units if u.count(".") > 1)


def test_units_are_exact_slices_inside_one_block(tmp_path):
    for doc in (read(tmp_path, "guide.html", GUIDE), read_document(SEEDS / "003_a9c27a608b917622.txt")):
        shape = outline(doc)
        for unit in shape.units:
            block = doc.blocks[unit.block]
            assert block.start <= unit.start < unit.end <= block.end
            assert doc.text[unit.start:unit.end].strip() == doc.text[unit.start:unit.end]
        assert [u.start for u in shape.units] == sorted(u.start for u in shape.units)


def test_every_block_knows_the_headings_above_it(tmp_path):
    doc = read(tmp_path, "guide.html", GUIDE)
    shape = outline(doc)
    by_text = {doc.text[u.start:u.end]: shape.sections[u.block] for u in shape.units}
    assert shape.title == "Server guide"
    assert by_text["Its default is 30 seconds."] == "Configuration"  # the title's own heading is not repeated
    assert by_text["Rotation happens daily."] == "Configuration > Logging"
    assert by_text["max_clients | 64"] == "Limits"
    assert shape.section_at(doc.text.index("Rotation")) == "Configuration > Logging"


def test_section_paths_close_deeper_headings_and_keep_the_nearest_two(tmp_path):
    doc = read(tmp_path, "notes.md", "# A\n\n## B\n\n### C\n\ntext one here.\n\n## D\n\ntext two here.\n")
    paths = section_paths(doc.text, doc.blocks)
    body = [p for p, b in zip(paths, doc.blocks) if b.kind == "paragraph"]
    assert body == ["B > C", "A > D"]


def test_a_definition_list_term_heads_its_definition_and_closes_after_it(tmp_path):
    # Texinfo's option lists (tinc's manual): the option's name is only in the <dt>, its description in the <dd>
    doc = read(tmp_path, "vars.html", """<html><body><h1>Main configuration variables</h1>
        <dl><dt><span>LocalDiscovery = &lt;yes | no&gt; (no)</span></dt>
        <dd><p>When enabled, tinc will try to detect peers that are on the same local network.</p>
        <pre>LocalDiscovery = yes</pre><p>This allows direct communication using LAN addresses.</p></dd>
        <dt>Mode = &lt;router|switch&gt;</dt><dd>This option selects the way packets are routed.</dd></dl>
        <p>Variables not listed here are ignored by the daemon.</p></body></html>""")
    shape = outline(doc)
    by_text = {doc.text[u.start:u.end]: shape.sections[u.block] for u in shape.units}
    term = "LocalDiscovery = <yes | no> (no)"
    assert by_text["When enabled, tinc will try to detect peers that are on the same local network."] == term
    assert by_text["LocalDiscovery = yes"] == term and by_text["This allows direct communication using LAN addresses."] == term
    assert by_text["This option selects the way packets are routed."] == "Mode = <router|switch>"
    assert by_text["Variables not listed here are ignored by the daemon."] == ""  # after the list: the title only
    evidence = [c.text for c in candidates_of(doc, shape)]
    assert term not in evidence and "This option selects the way packets are routed." in evidence


def candidates_of(doc, shape: Outline):
    """The evidence candidates of a whole document (one chunk spanning it)."""
    from types import SimpleNamespace

    from rag.search.evidence import candidates

    chunk = SimpleNamespace(score=1.0, node=SimpleNamespace(text=doc.text, metadata={
        "source": "vars.html", "file_hash": "h", "start": 0, "end": len(doc.text)}))
    return candidates([chunk], lambda _hash: (doc.text, shape))


@pytest.mark.parametrize("name", sorted(p.name for p in SEEDS.glob("*.txt")))
def test_outline_survives_its_json(name):
    shape = outline(read_document(SEEDS / name))
    assert Outline.from_json(shape.to_json()) == shape and shape.units


def test_a_long_code_block_is_cut_at_line_ends(tmp_path):
    lines = "\n".join(f"option_{n} = value_{n}  # what option {n} does" for n in range(60))
    doc = read(tmp_path, "conf.md", f"# Config\n\n```\n{lines}\n```\n")
    shape = outline(doc)
    code = [doc.text[u.start:u.end] for u in shape.units if doc.blocks[u.block].kind == "code"]
    assert len(code) > 1 and all(sum(line in unit for unit in code) == 1 for line in lines.splitlines())
