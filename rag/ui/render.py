"""HTML for the chat window: answers with clickable [n] markers, the evidence panel, the document viewer.

Example: highlight("Blinken met Xi. Then <b>lunch</b>.", [(0, 15, "1")])
  -> '<mark data-mark="1">Blinken met Xi.</mark> Then &lt;b&gt;lunch&lt;/b&gt;.'
Every piece of document, question and answer text passes through html.escape here, so markup inside a document
shows as text and never runs; only the tags written in this module (and rag/ui/decision_words.py, the
verdict and how it was decided) reach the page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from html import escape

from rag.answer.result import UNCONFIRMED, Answer, Found
from rag.search.evidence import Evidence
from rag.ui.decision_words import decision_details, plain_why, verdict_badge, verdict_of

CONTEXT_CHARS = 300  # text shown around a quote in the sources panel
DOC_VIEW_CHARS = 60_000  # a longer document is shown as a window around its quotes
CLOSEST_SHOWN = 3  # passages listed with a refusal
EMPTY_PANEL = '<p class="empty">Ask a question: the quotes behind each answer appear here.</p>'


def highlight(text: str, spans: list[tuple[int, int, str]], offset: int = 0) -> str:
    """Escape text, wrapping each (start, end, label) span (absolute offsets; text starts at offset) in a <mark>.
    Overlapping spans are clipped so the marks never nest."""
    out, at = [], offset
    for start, end, label in sorted(spans):
        start, end = max(start, at), min(end, offset + len(text))
        if start >= end:
            continue
        out.append(escape(text[at - offset:start - offset]))
        out.append(f'<mark data-mark="{escape(label)}">{escape(text[start - offset:end - offset])}</mark>')
        at = end
    out.append(escape(text[at - offset:]))
    return "".join(out)


def _window(length: int, start: int, end: int, around: int) -> tuple[int, int]:
    return max(0, start - around), min(length, end + around)


def passage_html(document: str | None, item: Evidence, around: int = CONTEXT_CHARS) -> str:
    """The quote highlighted inside about `around` characters of its surrounding text (cut at spaces)."""
    if document is None or document[item.start:item.end] != item.text:
        return f'<mark class="quote">{escape(item.text)}</mark>'
    lo, hi = _window(len(document), item.start, item.end, around)
    if lo > 0:
        lo = document.find(" ", lo, item.start) + 1 or lo
    if hi < len(document):
        cut = document.rfind(" ", item.end, hi)
        hi = cut if cut > 0 else hi
    return ("…" * (lo > 0) + escape(document[lo:item.start]) + f'<mark class="quote">{escape(item.text)}</mark>'
            + escape(document[item.end:hi]) + "…" * (hi < len(document)))


def document_view(source: str, document: str, marks: list[tuple[int, int, str]]) -> str:
    """One document (or a window of a long one) with every cited span marked; hidden until a citation is clicked."""
    lo, hi = 0, len(document)
    if hi > DOC_VIEW_CHARS and marks:
        lo, hi = _window(len(document), min(m[0] for m in marks), max(m[1] for m in marks), DOC_VIEW_CHARS // 2)
    note = f" (characters {lo:,}–{hi:,} of {len(document):,})" if (lo, hi) != (0, len(document)) else ""
    return (f'<div class="doc-view" hidden><div class="doc-title">{escape(source)}{note}</div>'
            f'<div class="doc-text">{highlight(document[lo:hi], marks, lo)}</div></div>')


def _cite(turn: int, label: str, text: str) -> str:
    # the target rides in href: the chat's sanitizer drops data-* attributes but keeps a fragment link
    return f'<a class="cite" href="#cite-{turn}-{escape(label)}" title="show the quote">{escape(text)}</a>'


def understood_html(question: str, answer: Answer) -> str:
    if answer.standalone_question.strip() == question.strip():
        return ""
    return f'<div class="understood">Understood as: {escape(answer.standalone_question)}</div>'


def answer_message(answer: Answer, question: str, turn: int) -> str:
    """The assistant's chat message: each sentence with links to its verified quotes, or a refusal with the
    closest passages found."""
    head = understood_html(question, answer)
    if answer.refused:
        verdict = verdict_of(answer)
        closest = "".join(f"<li>{_cite(turn, f'p{n}', item.source)}: “{escape(item.text)}”</li>"
                          for n, item in enumerate(answer.evidence[:CLOSEST_SHOWN], 1))
        listed = f'<div class="closest-title">{_closest_title(answer)}:</div><ol class="closest">{closest}</ol>'
        why = (f'<div class="withheld">The answer the model wrote was withheld: {escape(plain_why(answer))}.</div>'
               if _draft_shown(answer) and plain_why(answer) else "")
        lead = escape(UNCONFIRMED) if verdict == "unconfirmed" else "The documents don't say."
        return f'{head}<div class="refusal {verdict}"><strong>{lead}</strong>{why}{listed if closest else ""}</div>'
    cited = {citation.number for citation in answer.citations}
    sentences = []
    for claim in answer.claims:
        links = "".join(_cite(turn, str(n), f"[{n}]") for n in claim.cited if n in cited)
        if claim.supported:
            sentences.append(f"{escape(claim.sentence)}<sup>{links}</sup>")
        else:
            sentences.append(f'<span class="unsupported" title="no quote supports this sentence">'
                             f'{escape(claim.sentence)}</span>')
    text = " ".join(sentences) or escape(answer.answer)
    return f'{head}<div class="answer-text">{text}</div><div class="answer-foot">{verdict_badge(answer)}</div>'


def evidence_panel(answer: Answer, question: str, turn: int, read: Callable[[Evidence], str | None]) -> str:
    """The evidence panel for one answer: the verdict (and how it was decided), the quotes in context, and the
    documents to jump into.
    `read(evidence)` gives the document text the evidence offsets index (None when it is gone)."""
    if answer.refused:
        shown = answer.evidence if verdict_of(answer) == "unconfirmed" else answer.evidence[:CLOSEST_SHOWN]
        items = [(f"p{n}", item) for n, item in enumerate(shown, 1)]
        title = _closest_title(answer)
        reason = f'<p class="reason">Why: {escape(plain_why(answer) or "no supported answer")}</p>'
        if _draft_shown(answer):
            reason += (f'<details class="draft"><summary>What the model wrote (withheld)</summary>'
                       f"{escape(answer.draft)}</details>")
    else:
        by_number = {n: item for n, item in enumerate(answer.evidence, 1)}
        # each passage narrowed to the quote its citation rests on, shown inside the text around it
        items = [(str(c.number), replace(by_number[c.number], text=c.quote, start=c.start, end=c.end))
                 for c in answer.citations if c.number in by_number]
        title, reason = "Sources", ""
    documents = {item.file_hash: read(item) for _, item in items}
    listed = "".join(
        f'<li>{_cite(turn, label, (f"[{label}] " if label.isdigit() else "") + item.source)}{_where(item)}'
        f'<div class="passage">{passage_html(documents[item.file_hash], item)}</div></li>' for label, item in items)
    views = []
    for file_hash, document in documents.items():
        if document is not None:
            marks = [(item.start, item.end, label) for label, item in items if item.file_hash == file_hash]
            views.append(document_view(next(i.source for _, i in items if i.file_hash == file_hash), document, marks))
    unsupported = [claim.sentence for claim in answer.claims if not claim.supported] if not answer.refused else []
    flagged = ("<h4>Not supported by any quote</h4><ul class=\"flagged\">"
               + "".join(f"<li>{escape(s)}</li>" for s in unsupported) + "</ul>") if unsupported else ""
    timing = f"evidence passages: {len(answer.evidence)} · total {answer.total_s:.1f} s"
    if answer.ttft_s is not None:
        timing = f"first token {answer.ttft_s:.1f} s · " + timing
    return (f'<div class="panel-head">Answer {turn + 1} {verdict_badge(answer)}</div>'
            f'<div class="panel-question">Q: {escape(question)}</div>{understood_html(question, answer)}{reason}'
            f'{decision_details(answer)}<h4>{title}</h4><ol class="sources">{listed}</ol>{flagged}'
            f'<div class="doc-views">{"".join(views)}</div><p class="timing">{timing}</p>')


def _closest_title(answer: Answer) -> str:
    return "Passages to check" if verdict_of(answer) == "unconfirmed" else "Closest passages found"


def _draft_shown(answer: Answer) -> bool:
    """The withheld draft is offered where the model wrote one that the checks did not let through."""
    decision = answer.decision
    return bool(answer.draft.strip()) and (decision is None or decision.verdict == "unconfirmed" or decision.rung == "rule")


def _where(item: Evidence) -> str:
    return f'<div class="where">{escape(item.header())}</div>' if item.header() else ""


def found_panel(found: Found, question: str, turn: int, read: Callable[[Evidence], str | None]) -> str:
    """The passages the model reads, shown as soon as they are found, while it writes; a second look replaces them
    with all it reads now (the first passages and the next-best ones)."""
    if not found.evidence:
        return f'<div class="panel-head">Answer {turn + 1}</div><p class="empty">No passages found.</p>'
    documents = {item.file_hash: read(item) for item in found.evidence}
    listed = "".join(f'<li>[{n}] {escape(item.source)}{_where(item)}<div class="passage">'
                     f'{passage_html(documents[item.file_hash], item)}</div></li>' for n, item in enumerate(found.evidence, 1))
    badge, title = (("reading more passages…", "Passages found, with the next-best ones added") if found.look > 1
                    else ("writing…", "Passages found"))
    return (f'<div class="panel-head">Answer {turn + 1} <span class="badge waiting">{badge}</span></div>'
            f'<div class="panel-question">Q: {escape(question)}</div><h4>{title}</h4>'
            f'<ol class="sources">{listed}</ol>')


def streaming_message(draft: str) -> str:
    return f'<div class="answer-text streaming">{escape(draft)}</div>'


def notice_message(text: str, kind: str = "error") -> str:
    return f'<div class="notice {kind}">{escape(text)}</div>'


def documents_table(rows: list[tuple[str, str, int]]) -> str:
    """The indexed documents as a small table: name, type, chunks."""
    if not rows:
        return '<p class="empty">No documents indexed yet: upload some above.</p>'
    body = "".join(f"<tr><td>{escape(name)}</td><td>{escape(kind)}</td><td>{chunks}</td></tr>"
                   for name, kind, chunks in rows)
    return f'<table class="documents"><tr><th>document</th><th>type</th><th>chunks</th></tr>{body}</table>'


_SPACE = re.compile(r"\s+")


def one_line(text: str, limit: int = 200) -> str:
    """Text squeezed onto one line and cut to `limit` characters (for status lines and logs)."""
    flat = _SPACE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
