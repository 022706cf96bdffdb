"""training.sources, the pure parts: which documents a package contributes and whether its licence lets us use them.

No network and no apt: the selection runs on made-up files, the licence decision on sample copyright texts.
"""

import gzip
import random

import pytest

from training.sources import MAX_BYTES, MIN_BYTES, gather, licence_decision, name_problem, prose_problem, select_files, spread_order

SENTENCE = "The server reads the configuration file when it starts, and it can reload it if you send a signal to the process. "
GERMAN = "Der Server liest seine Konfigurationsdatei beim Start und kann sie neu laden, wenn man dem Prozess ein Signal sendet. "


def prose(size: int, html: bool = True) -> bytes:
    """English prose of about `size` bytes, as an HTML page or plain text."""
    body = (SENTENCE * (size // len(SENTENCE) + 1))[:size - 60]
    return (f"<html><body><p>{body}</p></body></html>" if html else body).encode()


def corpus(n: int = 40, size: int = 10_000) -> dict[str, bytes]:
    return {f"manual/page{i:02d}.html": prose(size) for i in range(n)}


# -- spread_order and select_files

@pytest.mark.parametrize("n", [0, 1, 2, 5, 8, 13, 100])
def test_spread_order_is_a_permutation(n):
    assert sorted(spread_order(n)) == list(range(n))


def test_spread_order_starts_evenly_spaced():
    assert spread_order(8) == [0, 4, 2, 6, 1, 5, 3, 7]
    assert sorted(spread_order(80)[:8]) == [0, 10, 20, 30, 40, 50, 60, 70]


def test_at_most_eight_files_spread_over_the_sorted_paths():
    chosen, _ = select_files(corpus(40))
    assert chosen == [f"manual/page{i:02d}.html" for i in (0, 5, 10, 15, 20, 25, 30, 35)]


def test_the_total_stays_under_the_package_cap():
    files = corpus(40, size=60_000)
    chosen, _ = select_files(files)
    assert sum(len(files[p]) for p in chosen) <= 400_000
    assert len(chosen) == 6  # 6 x 60 KB fit, a seventh would not
    chosen, _ = select_files(files, max_files=3, max_total=10**9)
    assert len(chosen) == 3


def test_sizes_outside_the_range_are_skipped():
    files = {"tiny.html": prose(MIN_BYTES - 500), "huge.html": prose(MAX_BYTES + 10_000), "fine.html": prose(20_000)}
    chosen, skipped = select_files(files)
    assert chosen == ["fine.html"]
    assert skipped["size out of range"] == 2


@pytest.mark.parametrize("path", ["changelog.html", "NEWS.md", "OLDNEWS.txt", "LICENSE.txt", "COPYING.md", "copyright.txt",
                                  "releaselog/3_10_1.html", "html/release-15-1.html", "AUTHORS.md", "genindex.html",
                                  "manual/de/mod_ssl.html", "manual/pt-br/index.html", "html/_static/ReadMe.html",
                                  "html/_sources/index.rst.txt"])
def test_changelog_licence_index_and_translation_files_are_skipped(path):
    assert name_problem(path, 20_000, {path}) is not None
    assert select_files({path: prose(20_000), "guide.html": prose(20_000)})[0] == ["guide.html"]


@pytest.mark.parametrize("path", ["manual/en/mod/mod_ssl.html", "html/exchange.html", "man/man1/ssh.1.txt", "user-manual.html"])
def test_ordinary_documents_pass_the_name_check(path):
    assert name_problem(path, 20_000, {path}) is None


def test_a_text_copy_of_an_html_page_is_skipped():
    files = {"git-log.html": prose(20_000), "git-log.txt": prose(20_000, html=False), "howto.txt": prose(9_000, html=False)}
    chosen, skipped = select_files(files)
    assert chosen == ["git-log.html", "howto.txt"]
    assert skipped["duplicate of the .html"] == 1


def test_non_english_link_lists_and_short_pages_are_not_prose():
    german = (GERMAN * 60).encode()
    links = ("<ul>" + "".join(f"<li><a href='p{i}.html'>Page number {i} of the manual</a></li>" for i in range(300))
             + "</ul>").encode()
    assert prose_problem("a.txt", german) == "not English prose"
    assert prose_problem("a.html", links) == "mostly links"
    assert prose_problem("a.txt", (SENTENCE * 10).encode()) == "too little text"
    assert prose_problem("a.html", prose(20_000)) is None
    assert select_files({"de.txt": german, "links.html": links, "en.txt": prose(9_000, html=False)})[0] == ["en.txt"]


def test_pdfs_only_fill_places_the_html_and_text_leave():
    files = {**corpus(10), "book.pdf": b"%PDF-1.4 " + b"x" * 20_000}
    assert "book.pdf" not in select_files(files)[0]
    assert select_files({**corpus(3), "book.pdf": files["book.pdf"]})[0][0] == "book.pdf"


def test_the_selection_is_deterministic_whatever_the_order_given():
    files = {**corpus(30), **{f"guide/{c}.txt": prose(5_000 + 997 * i, html=False) for i, c in enumerate("abcdefghij")}}
    items = list(files.items())
    random.Random(7).shuffle(items)
    assert select_files(dict(items)) == select_files(files)
    assert select_files(files)[0] == sorted(select_files(files)[0])


# -- gather: an unpacked .deb's documents

def test_gather_takes_readable_docs_ungzipped_and_leaves_the_rest(tmp_path):
    doc = tmp_path / "usr/share/doc"
    (doc / "pkg/html").mkdir(parents=True)
    (doc / "other").mkdir()
    (doc / "pkg/html/guide.html").write_bytes(b"<p>guide</p>")
    (doc / "pkg/notes.txt.gz").write_bytes(gzip.compress(b"plain notes"))
    (doc / "other/intro.md").write_bytes(b"# intro")
    (doc / "pkg/script.sh").write_bytes(b"echo hi")
    (doc / "pkg/link.html").symlink_to(doc / "pkg/html/guide.html")
    found = gather(tmp_path, "pkg")
    assert found == {"html/guide.html": b"<p>guide</p>", "notes.txt": b"plain notes", "other/intro.md": b"# intro"}


# -- licence_decision

DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: postgresql

Files: *
Copyright: 1996-2023, The PostgreSQL Global Development Group
License: PostgreSQL

Files: src/backend/regex/*
Copyright: 1998, 1999 Henry Spencer
License: Custom-regex

License: PostgreSQL
 Permission to use, copy, modify, and distribute this software and its
 documentation for any purpose, without fee, and without a written agreement
 is hereby granted.
"""

VIM = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: Bram Moolenaar
License: Vim

Files: runtime/doc/*
Copyright: Bram Moolenaar
License: OPL-1+

Files: src/xdiff/*
Copyright: Davide Libenzi
License: LGPL-2.1+
"""

FAIL2BAN = """This package was originally debianized by Yaroslav Halchenko.
Copyright: 2004-2009 Cyril Jaquier
This program is free software; you can redistribute it and/or modify
it under the terms of the GNU General Public License as published by
the Free Software Foundation; either version 2 of the License, or
(at your option) any later version.
"""

TEXINFO = """The documentation files are licensed under GFDL without front/back cover text and invariant sections:
Permission is granted to copy, distribute and/or modify this document
under the terms of the GNU Free Documentation License, Version 1.3 or
any later version published by the Free Software Foundation; with no
Invariant Sections, with no Front-Cover Texts, and with no Back-Cover Texts.
"""

NONFREE_GFDL = """Permission is granted to copy, distribute and/or modify this document
under the terms of the GNU Free Documentation License, Version 1.3 or any later version published by the Free
Software Foundation; with the Invariant Sections being "GNU General Public License", the Front-Cover texts
being "A GNU Manual", and with the Back-Cover Texts as in (a) below.
"""

GNUPLOT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 1986-1993, 1998, 2004, 2007 Thomas Williams, Colin Kelley
License: other
 Permission to use, copy, and distribute this software and its
 documentation for any purpose with or without fee is hereby granted,
"""


@pytest.mark.parametrize("text, summary, allowed", [
    (DEP5, "PostgreSQL", True),
    (VIM, "Vim, OPL-1+", True),
    (FAIL2BAN, "GPL-2+", True),
    (TEXINFO, "GFDL-1.3", True),
    (GNUPLOT, "other (use, copy, distribute)", True),
    (NONFREE_GFDL, "GFDL-1.3", False),
    ("Files: *\nCopyright: 2020 A. Author\nLicense: CC-BY-NC-4.0\n", "CC-BY-NC-4.0", False),
    ("Copyright 2020 A. Author. All rights reserved.\n", "unknown", False),
    ("", "unknown", False),
])
def test_licence_decision(text, summary, allowed):
    got_summary, got_allowed, why = licence_decision(text)
    assert (got_summary, got_allowed) == (summary, allowed)
    assert why.startswith("allowed" if allowed else "not allowed")


def test_a_non_free_gfdl_says_why():
    assert licence_decision(NONFREE_GFDL)[2] == "not allowed: GFDL with invariant sections"
