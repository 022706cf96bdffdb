"""Readers: every format comes back as blocks (headings, paragraphs, items, rows, code) over the text as read."""

import datetime as dt
from pathlib import Path

import pytest
from pdf_maker import Text, make_pdf

from rag.read.dates import find_date, parse_date
from rag.read.formats.blocks import DEFINITION, KINDS
from rag.read.readers import DocumentText, read_document

SEEDS = Path(__file__).parent.parent / "seeds"


def check_blocks(doc: DocumentText) -> None:
    """The Block contract: spans of the text, stripped, in order, not overlapping, covering every non-space character."""
    at = 0
    for block in doc.blocks:
        piece = doc.text[block.start:block.end]
        assert block.start >= at and block.end > block.start, block
        assert piece == piece.strip() and piece, block
        assert block.kind in KINDS and (1 <= block.level <= 6 if block.kind == "heading" else
                                        block.level == DEFINITION if block.kind == "term" else block.level in (0, DEFINITION)), block
        assert doc.text[at:block.start].strip() == "", f"text outside any block: {doc.text[at:block.start]!r}"
        at = block.end
    assert doc.text[at:].strip() == "", f"text outside any block: {doc.text[at:]!r}"


def read(tmp_path: Path, name: str, content: str | bytes) -> DocumentText:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    doc = read_document(path)
    check_blocks(doc)
    return doc


def blocks(doc: DocumentText) -> list[tuple[str, str, int]]:
    return [(b.kind, doc.text[b.start:b.end], b.level) for b in doc.blocks]


# ---- HTML -------------------------------------------------------------------------------------------------------------
def test_html_inline_elements_stay_inside_their_sentence(tmp_path):
    doc = read(tmp_path, "ports.html", """<html><body>
        <p>The default port is <code>8080</code>, unless
           <a href="conf.html">the <em>config</em> file</a> sets <strong>another</strong>.</p>
        <p>Press <kbd>Ctrl</kbd>+<kbd>C</kbd> to stop; H<sub>2</sub>O is <span class="x">water</span>.</p>
        <p>First line<br>second line</p></body></html>""")
    assert blocks(doc) == [("paragraph", "The default port is 8080, unless the config file sets another.", 0),
                           ("paragraph", "Press Ctrl+C to stop; H2O is water.", 0),
                           ("paragraph", "First line\nsecond line", 0)]
    assert doc.text.startswith("The default port is 8080, unless the config file sets another.\n\nPress Ctrl+C")


def test_html_table_reads_row_by_row_and_pre_stays_verbatim(tmp_path):
    doc = read(tmp_path, "services.html", """<body><h2>Services</h2>
        <table><caption>Ports in use</caption>
          <thead><tr><th>Port</th><th>Service</th></tr></thead>
          <tbody><tr><td>8080</td><td><p>web</p></td></tr><tr><td>5432</td><td>database <em>(local)</em></td></tr></tbody>
        </table>
        <pre>
server {
    listen 8080;

    root /srv/www;
}</pre><p>Reload after a change.</p></body>""")
    assert blocks(doc) == [("heading", "Services", 2), ("paragraph", "Ports in use", 0), ("row", "Port | Service", 0),
                           ("row", "8080 | web", 0), ("row", "5432 | database (local)", 0),
                           ("code", "server {\n    listen 8080;\n\n    root /srv/www;\n}", 0),
                           ("paragraph", "Reload after a change.", 0)]


def test_html_navigation_and_page_furniture_are_dropped(tmp_path):
    # The navheader/navfooter tables are DocBook's (debian-reference), the role=navigation bar Sphinx's, the "Next:"
    # header Texinfo's (tinc's manual).
    doc = read(tmp_path, "chapter.html", """<html><head><title>Chapter 1. Tutorials</title><script>var x = 1;</script>
        <style>p { color: red }</style></head><body>
        <header><a href="/">Site home</a> <form><input name="q"><button>Search</button></form></header>
        <div class="navheader"><table width="100%" summary="Navigation header">
          <tr><th colspan="3" align="center">Chapter 1. GNU/Linux tutorials</th></tr>
          <tr><td align="left"><a accesskey="p" href="pr01.en.html"><img src="prev.png" alt="Prev"/></a> </td>
              <th width="60%" align="center"> </th><td align="right"><a href="ch02.en.html">Next</a></td></tr></table></div>
        <div class="related" role="navigation"><ul><li><a href="index.html">index</a></li></ul></div>
        <nav><ul><li><a href="a.html">Other page</a></li></ul></nav>
        <div class="header"><p>Next: <a href="How-to-configure.html" accesskey="n" rel="next">How to configure</a>,
          Previous: <a href="Host-configuration-variables.html" accesskey="p" rel="prev">Host configuration variables</a>,
          Up: <a href="Configuration-files.html" accesskey="u" rel="up">Configuration files</a> &nbsp;
          [<a href="index.html#SEC_Contents" title="Table of contents" rel="contents">Contents</a>]</p></div>
        <div class="sphinxsidebar"><h3>Quick search</h3></div>
        <h1>Chapter 1. Tutorials<a class="headerlink" href="#tut" title="Permalink">¶</a></h1>
        <p>Learning a system is like learning a language.</p>
        <div class="toc"><ul><li>1.1 Console basics</li></ul></div>
        <aside>Related: buy our book</aside><p hidden>draft note</p><p style="display: none">old text</p>
        <noscript>Enable JavaScript</noscript>
        <footer>Copyright 2024 Example Corp</footer>
        <div class="navfooter"><table><tr><td>Preface</td><td><a href="index.html">Home</a></td></tr></table></div>
        </body></html>""")
    assert blocks(doc) == [("heading", "Chapter 1. Tutorials", 1), ("paragraph", "Learning a system is like learning a language.", 0)]
    assert doc.title == "Chapter 1. Tutorials"


def test_html_main_content_is_preferred_and_an_article_keeps_its_own_header(tmp_path):
    doc = read(tmp_path, "post.html", """<body><div id="top">Subscribe to our newsletter</div>
        <main><article><header><h1>Release 2.0</h1><p>Published <time datetime="2024-02-29T10:00:00Z">Feb 29</time></p></header>
        <p>Version 2.0 drops support for the old configuration format and adds a migration tool.</p></article></main>
        <div>Cookie settings</div></body>""")
    assert blocks(doc) == [("heading", "Release 2.0", 1), ("paragraph", "Published Feb 29", 0),
                           ("paragraph", "Version 2.0 drops support for the old configuration format and adds a migration tool.", 0)]
    assert (doc.title, doc.date) == ("Release 2.0", "2024-02-29")


def test_html_headings_lists_title_and_date_from_meta(tmp_path):
    doc = read(tmp_path, "guide.html", """<html><head><title>Widget guide</title>
        <meta name="dcterms.date" content="2024-03-05"><meta property="article:modified_time" content="2025-01-01"></head>
        <body><h1>Widget guide</h1><h3>Installing</h3>
        <ol><li><p>Download the package.</p></li><li>Run <code>install.sh</code>
          <ul><li>as root</li></ul></li></ol>
        <dl><dt>--port</dt><dd>The port to listen on.</dd></dl></body></html>""")
    assert blocks(doc) == [("heading", "Widget guide", 1), ("heading", "Installing", 3),
                           ("item", "Download the package.", 0), ("item", "Run install.sh", 0), ("item", "as root", 0),
                           ("term", "--port", 7), ("paragraph", "The port to listen on.", 7)]
    assert (doc.title, doc.kind, doc.date) == ("Widget guide", "html", "2024-03-05")


def test_html_title_leads_the_text_when_the_page_does_not_repeat_it(tmp_path):
    # Sphinx (Knot DNS's manual): the version is only in the <title> and the navigation bar
    doc = read(tmp_path, "troubleshooting.html", """<html><head><title>Troubleshooting &#8212; Knot DNS 3.2.6 documentation</title>
        </head><body><div class="related" role="navigation"><ul><li class="nav-item nav-item-0">
        <a href="index.html">Knot DNS 3.2.6 documentation</a> &#187;</li></ul></div>
        <div class="body" role="main"><section id="troubleshooting"><h1>Troubleshooting<a class="headerlink"
        href="#troubleshooting" title="Permalink to this heading">¶</a></h1><p>First of all, check the logs.</p>
        </section></div></body></html>""")
    assert blocks(doc) == [("heading", "Troubleshooting — Knot DNS 3.2.6 documentation", 1), ("heading", "Troubleshooting", 1),
                           ("paragraph", "First of all, check the logs.", 0)]


def test_html_date_from_a_dateline_and_a_page_of_links_is_still_read(tmp_path):
    doc = read(tmp_path, "news.html", "<h1>Storm closes port</h1><p>By A. Reporter | Updated: 2023-11-02 08:15</p>"
                                      "<p>The port closed on Tuesday.</p>")
    assert (doc.title, doc.date) == ("Storm closes port", "2023-11-02")
    index = read(tmp_path, "index.html", '<nav><ul><li><a href="a.html">Getting started</a></li>'
                                         '<li><a href="b.html">Reference</a></li></ul></nav>')
    assert blocks(index) == [("item", "Getting started", 0), ("item", "Reference", 0)]


# ---- PDF --------------------------------------------------------------------------------------------------------------
def _manual_pages() -> list[list[Text]]:
    """Three pages of a manual: a running header and a "Page n of 3" footer on each, headings, a paragraph wrapped over
    four lines with a hyphenated word, a paragraph that runs over a page break, bullets and a code example."""
    def furniture(n):
        return [Text(72, 760, "Widget Manual - User Guide", size=9), Text(280, 40, f"Page {n} of 3", size=9)]

    page1 = furniture(1) + [
        Text(72, 710, "1 Getting started", size=16, font="F2"),
        Text(72, 680, "The widget server listens on port 8080 unless the"),
        Text(72, 666, "configuration file names another port. Its configu-"),
        Text(72, 652, ["ration lives in /etc/widget/widget.conf and is", -250, "read"]),
        Text(72, 638, "once at start."),
        Text(72, 610, "1.1 Command-line options", size=12, font="F2"),
        Text(72, 590, "\u2022 --port sets the port to listen on."),
        Text(72, 576, "\u2022 --quiet silences the log."),
        Text(72, 548, "When the server cannot bind its port it writes the"),
        Text(72, 534, "reason to the log, waits a second, tries once more"),
    ]
    page2 = furniture(2) + [
        Text(72, 720, "and then exits with status 2. Use the command-"),
        Text(72, 706, "line flag --port to choose a free port instead."),
        Text(72, 678, "Start it by hand to see the messages:"),
        Text(90, 658, "widgetd --port 9090", font="F3", size=10),
        Text(90, 646, "widgetd --quiet", font="F3", size=10),
    ]
    page3 = furniture(3) + [
        Text(72, 710, "2 Troubleshooting", size=16, font="F2"),
        Text(72, 680, "Most problems come from a port that another program"),
        Text(72, 666, "already holds; stop that program or pick a new port."),
    ]
    return [page1, page2, page3]


def test_pdf_paragraphs_headings_items_and_code_without_headers_or_page_numbers(tmp_path):
    doc = read(tmp_path, "manual.pdf", make_pdf(_manual_pages(), title="Widget Manual", mod_date="D:20240131093000+01'00'"))
    assert blocks(doc) == [
        ("heading", "1 Getting started", 1),
        ("paragraph", "The widget server listens on port 8080 unless the configuration file names another port. "
                      "Its configuration lives in /etc/widget/widget.conf and is read once at start.", 0),
        ("heading", "1.1 Command-line options", 2),
        ("item", "\u2022 --port sets the port to listen on.", 0),
        ("item", "\u2022 --quiet silences the log.", 0),
        ("paragraph", "When the server cannot bind its port it writes the reason to the log, waits a second, tries once "
                      "more and then exits with status 2. Use the command-line flag --port to choose a free port instead.", 0),
        ("paragraph", "Start it by hand to see the messages:", 0),
        ("code", "widgetd --port 9090\nwidgetd --quiet", 0),
        ("heading", "2 Troubleshooting", 1),
        ("paragraph", "Most problems come from a port that another program already holds; stop that program or pick a new port.", 0),
    ]
    assert "Widget Manual - User Guide" not in doc.text and "Page 2 of 3" not in doc.text
    assert (doc.kind, doc.title, doc.date) == ("pdf", "Widget Manual", "2024-01-31")


def test_pdf_two_pages_are_too_few_to_call_a_line_a_running_header(tmp_path):
    doc = read(tmp_path, "short.pdf", make_pdf(_manual_pages()[:2], title="Microsoft Word - manual.doc"))
    assert doc.text.count("Widget Manual - User Guide") == 2
    assert doc.title == "1 Getting started", "a word processor's file name is not a title"
    assert doc.date == ""


def test_pdf_words_placed_by_moves_in_a_composite_font_keep_their_spaces(tmp_path):
    # XeTeX, dblatex and Sphinx's LaTeX print words in Identity-H fonts without a space glyph; pypdf alone glues them
    pages = [[Text(72, 700, "Every source package must include a changelog file"),
              Text(72, 686, ["that", -200, "records", -250, "the", -200, "A", -80, "V", -200, "ker", 30, "ning", -200, "fix."])]]
    doc = read(tmp_path, "xetex.pdf", make_pdf(pages, cid=True))
    assert blocks(doc) == [("paragraph", "Every source package must include a changelog file that records the AV kerning fix.", 0)]


# ---- DOCX -------------------------------------------------------------------------------------------------------------
def test_docx_headings_lists_and_a_table_in_document_order(tmp_path):
    import io

    import docx

    document = docx.Document()
    document.core_properties.title = "Widget handbook"
    document.core_properties.modified = dt.datetime(2024, 5, 6, 7, 8, tzinfo=dt.UTC)
    document.add_heading("Widget handbook", 0)
    document.add_heading("Ports", 1)
    document.add_paragraph("The default port is 8080, unless\tthe configuration names another.")
    document.add_paragraph("Open the port in the firewall.", style="List Bullet")
    document.add_paragraph("Restart the server.", style="List Number")
    table = document.add_table(rows=3, cols=2)
    for row, values in zip(table.rows, [("Port", "Service"), ("8080", "web"), ("5432", "database")]):
        for cell, value in zip(row.cells, values):
            cell.text = value
    document.add_heading("Logs", 2)
    document.add_paragraph("Logs are kept for a week.")
    buffer = io.BytesIO()
    document.save(buffer)
    doc = read(tmp_path, "handbook.docx", buffer.getvalue())
    assert blocks(doc) == [("heading", "Widget handbook", 1), ("heading", "Ports", 1),
                           ("paragraph", "The default port is 8080, unless the configuration names another.", 0),
                           ("item", "Open the port in the firewall.", 0), ("item", "Restart the server.", 0),
                           ("row", "Port | Service", 0), ("row", "8080 | web", 0), ("row", "5432 | database", 0),
                           ("heading", "Logs", 2), ("paragraph", "Logs are kept for a week.", 0)]
    assert (doc.kind, doc.title, doc.date) == ("docx", "Widget handbook", "2024-05-06")


# ---- Markdown and plain text --------------------------------------------------------------------------------------------
def test_markdown_blocks_are_found_in_the_file_as_read(tmp_path):
    text = ("# Widget\n\nThe server listens on port 8080\nunless told otherwise.\n\nSetup\n=====\n\n"
            "- install it\n- run it\n  as root\n1. then test\n\n```sh\nwidgetd --port 80\n\nwidgetd --quiet\n```\n\n"
            "| port | use |\n|------|-----|\n| 8080 | web |\n\nUsage\n-----\nSee the manual.\n")
    doc = read(tmp_path, "README.md", text)
    assert doc.text == text and doc.is_file_text
    assert blocks(doc) == [("heading", "# Widget", 1), ("paragraph", "The server listens on port 8080\nunless told otherwise.", 0),
                           ("heading", "Setup\n=====", 1), ("item", "- install it", 0), ("item", "- run it\n  as root", 0),
                           ("item", "1. then test", 0), ("code", "```sh\nwidgetd --port 80\n\nwidgetd --quiet\n```", 0),
                           ("row", "| port | use |\n|------|-----|", 0), ("row", "| 8080 | web |", 0),
                           ("heading", "Usage\n-----", 2), ("paragraph", "See the manual.", 0)]
    assert doc.title == "Widget"


def test_plain_text_wrapped_paragraphs_are_one_block_and_lines_of_their_own_are_not(tmp_path):
    wrapped = ("Release notes\n\nThe widget server now reads its configuration from one\nfile, checks it at start and "
               "refuses to run when a value\nis out of range, naming the setting it could not use.\n\n"
               "Fixed: the log rotated twice.\nAdded: a --quiet flag.\nChanged: the default port is 8080.\n")
    doc = read(tmp_path, "notes.txt", wrapped)
    assert blocks(doc) == [("heading", "Release notes", 1),
                           ("paragraph", "The widget server now reads its configuration from one\nfile, checks it at start and "
                                         "refuses to run when a value\nis out of range, naming the setting it could not use.", 0),
                           ("paragraph", "Fixed: the log rotated twice.", 0), ("paragraph", "Added: a --quiet flag.", 0),
                           ("paragraph", "Changed: the default port is 8080.", 0)]
    assert doc.title == "Release notes" and doc.date == ""


def test_seed_news_article_reads_as_headline_byline_and_paragraphs():
    doc = read_document(SEEDS / "000_7e71d6686ee625e3.txt")
    check_blocks(doc)
    found = blocks(doc)
    assert found[:5] == [("paragraph", "xi's moments", 0), ("paragraph", "Home | China-US", 0),
                         ("heading", "Blinken's visit seeks to stabilize relations", 1),
                         ("heading", "Experts expect little breakthrough but see Washington's desire for dialogue", 2),
                         ("paragraph", "By YANG RAN in Beijing and YIFAN XU in Washington | China Daily Global | "
                                       "Updated: 2024-04-25 09:21", 0)]
    assert found[5][1].startswith("US Secretary of State Antony Blinken talks with") and found[5][1].endswith("[Photo/Agencies]")
    assert ("heading", "Positive trend", 2) in found
    assert (doc.title, doc.date) == ("Blinken's visit seeks to stabilize relations", "2024-04-25")


def test_seed_with_one_paragraph_per_line_gives_a_block_per_line():
    doc = read_document(SEEDS / "003_a9c27a608b917622.txt")
    check_blocks(doc)
    lines = [line for line in doc.text.splitlines() if line.strip()]
    assert [doc.text[b.start:b.end] for b in doc.blocks] == lines
    assert ("heading", "Frequent recent high-level engagement", 2) in blocks(doc)
    assert doc.date == "2023-06-15"  # the photo caption's dateline on the first line


@pytest.mark.parametrize("seed", sorted(p.name for p in SEEDS.glob("*.txt")))
def test_every_seed_keeps_its_text_and_is_covered_by_blocks(seed):
    doc = read_document(SEEDS / seed)
    assert doc.text == (SEEDS / seed).read_text(encoding="utf-8") and doc.is_file_text
    check_blocks(doc)
    assert sum(b.kind == "paragraph" for b in doc.blocks) >= 5


# ---- dates ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, iso", [
    ("D:20240131093000+01'00'", "2024-01-31"), ("D:2023", "2023"), ("2024-04-25T09:21:00Z", "2024-04-25"),
    ("Wed, 21 Oct 2015 07:28:00 GMT", "2015-10-21"), ("April 24, 2024", "2024-04-24"), ("3rd March 2022", "2022-03-03"),
    ("Sept 2021", "2021-09"), ("2019", "2019"), ("04/05/2024", ""), ("2024-02-30", ""), ("soon", ""),
])
def test_parse_date(value, iso):
    assert parse_date(value) == iso


@pytest.mark.parametrize("text, iso", [
    ("Headline\n\nBy YANG RAN | China Daily | Updated: 2024-04-25 09:21\n\nBody.", "2024-04-25"),
    ("Release time:Apr 13, 2024 21:52 PM\n\nAs agreed ...", "2024-04-13"),
    ("Minutes\nDate: Tue, 3 Jun 2008\nPresent: all", "2008-06-03"),
    ("Weekly report\nMonday, June 12, 2023\n\nSales rose.", "2023-06-12"),
    ("Antony Blinken, Washington, D.C., June 15, 2023. /CFP\nBlinken will visit Beijing.", "2023-06-15"),
    ("The treaty was signed on June 15, 2023, after long talks between the two sides.", ""),
    ("Intro\n" + "x" * 1600 + "\nUpdated: 2024-01-01", ""),
])
def test_find_date_takes_datelines_only(text, iso):
    assert find_date(text) == iso
