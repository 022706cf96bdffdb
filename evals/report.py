"""report.md and a self-contained report.html from one run's summaries, records and plots.

Example: write_reports(Path("evals/out"), blocks) -> writes report.md and report.html (PNGs inlined as base64)
Both are rendered from the same list of blocks, so they always say the same thing. Every piece of document,
question and answer text is escaped: a seed file carrying <script> shows as text and never runs.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path

from evals.dataset import Item
from evals.metrics import contains_answer

ANSWER_ROWS = [
    ("n", "items"), ("n_answerable", "answerable items"), ("n_unanswerable", "unanswerable items"),
    ("accuracy", "accuracy (answerable: contains a gold answer, or every key term; unanswerable: refused)"),
    ("answer_accuracy", "answer accuracy on answerable items (right answers shown)"),
    ("wrong_shown", "wrong answers shown (answerable answered wrong + unanswerable answered)"),
    ("wrong_shown_rate", "wrong answers shown, share of all items"),
    ("containment_accuracy", "answer accuracy by gold-answer containment alone (key terms ignored)"),
    ("key_term_recall", "mean key-term recall (items with key terms)"), ("token_f1", "token F1 on answerable items"),
    ("refusal_rate", "refusal rate on unanswerable items"), ("false_refusal_rate", "false-refusal rate on answerable"),
    ("crag_score", "CRAG score (+1 right, 0 refused, -1 wrong)"), ("citation_precision", "citation source precision"),
    ("citation_recall", "citation source recall"), ("citations", "citations"),
    ("quote_exactness", "quote exactness (file[start:end] == quote)"), ("mean_grounding", "mean grounding"),
    ("repeated_sentence_rate", "answers that repeat a sentence (answered items)"),
    ("hit@1", "retrieved source hit@1"), ("hit@5", "retrieved source hit@5"), ("mrr", "retrieved source MRR"),
    ("ttft_p50_s", "time to first token p50 (s)"), ("ttft_p95_s", "time to first token p95 (s)"),
    ("total_p50_s", "total time p50 (s)"), ("total_p95_s", "total time p95 (s)"),
    ("prompt_tokens_mean", "prompt tokens (mean)"), ("errors", "errors"),
    ("sufficiency_auc", "sufficiency probe AUC, first look (answer in its passages vs unanswerable)"),
    ("second_look_rate", "second look read (share of items the model read)"),
    ("pre_draft_refusals", "refused before drafting"),
    ("pre_draft_precision", "of those, unanswerable or the answer missing from the passages"),
    ("unconfirmed_rate", "answers not confirmed (passages shown instead)"),
    ("confirmation_auc", "confirmation AUC (right vs wrong drafts)"),
    ("right_when_present", "draft right when its passages hold the answer"),
]
RETRIEVAL_ROWS = [
    ("n", "items"), ("n_answerable", "answerable items"), ("hit@1", "source hit@1"), ("hit@3", "source hit@3"),
    ("hit@5", "source hit@5"), ("mrr", "source MRR"),
    ("evidence_hit", "evidence hit (a passage the looks show overlaps a gold quote)"),
    ("presence_chunks", "answer in the retrieved chunks"), ("presence_ranked", "answer among the ranked passages"),
    ("presence_first_look", "answer in the first look (the passages the model reads first)"),
    ("presence_looks", "answer in the first and second looks"),
    ("gate_refusal_rate", "evidence gate refuses unanswerable"),
    ("gate_false_refusal_rate", "evidence gate refuses answerable"),
    ("retrieval_p50_s", "latency p50 (s)"), ("retrieval_p95_s", "latency p95 (s)"),
]


def fmt(value, ci=None) -> str:
    """Example: fmt(0.625, [0.386, 0.815]) -> "0.625 [0.386, 0.815]"; fmt(None) -> "-"; fmt(16) -> "16" """
    if value is None:
        return "-"
    text = f"{value:.3f}" if isinstance(value, float) else str(value)
    return f"{text} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else text


def figures_table(overalls: Mapping[str, Mapping], rows: Sequence[tuple[str, str]]) -> tuple:
    return ("table", ["metric", *overalls], [[label, *(fmt(o.get(key), o.get(key + "_ci")) for o in overalls.values())]
                                             for key, label in rows if any(key in o for o in overalls.values())])


def type_table(summaries: Mapping[str, Mapping], columns: Sequence[tuple[str, str]], group: str = "type") -> tuple:
    """One row per question type (or per split, group="split"), each pipeline's columns side by side."""
    key = f"by_{group}"
    types = list(dict.fromkeys(t for s in summaries.values() for t in s[key]))
    header = [group, "n"] + [f"{name} {label}" for name in summaries for _, label in columns]
    rows = []
    for t in types:
        row = [t, fmt(next(s[key][t]["n"] for s in summaries.values() if t in s[key]))]
        for s in summaries.values():
            figures = s[key].get(t, {})
            row += [fmt(figures.get(key), figures.get(key + "_ci")) for key, _ in columns]
        rows.append(row)
    return ("table", header, rows)


def _badness(score: Mapping) -> tuple:
    return (score["crag"], score["f1"] or 0.0)


def failure_blocks(items: Mapping[str, Item], scores: Sequence[Mapping], records: Mapping[str, Mapping],
                   other: Mapping[str, Mapping] | None, limit: int = 10) -> list[tuple]:
    """The worst items first: confidently wrong (-1), then wrongly refused (0); each with what a person needs to
    see why: question, answer, gold answers and quotes, the cited quotes, and the other pipeline's answer."""
    blocks: list[tuple] = []
    for score in sorted((s for s in scores if not s["accurate"]), key=_badness)[:limit]:
        item, record = items[score["id"]], records[score["id"]]
        verdict = "wrong answer" if score["crag"] < 0 else "refused an answerable question"
        if not item.answerable:
            verdict = "answered an unanswerable question"
        lines = [f"question: {item.question}"]
        lines += [f"history ({t['role']}): {t['content']}" for t in item.history]
        if record.get("standalone_question") not in (None, item.question):
            lines.append(f"understood as: {record['standalone_question']}")
        lines.append(f"answer: {record.get('answer') or ''}" + (" (refused)" if record.get("refused") else ""))
        if record.get("refusal_reason"):
            lines.append(f"refusal reason: {record['refusal_reason']}")
        if record.get("refused") and record.get("draft"):
            lines.append(f"withheld draft: {record['draft']}")
        if record.get("error"):
            lines.append(f"error: {record['error']}")
        lines.append("gold: " + (" | ".join(item.answers) or "(not in the documents: should refuse)"))
        if item.key_terms:
            answer = "" if record.get("refused") else record.get("answer") or ""
            missed = [g for g in item.key_terms if answer and not contains_answer(answer, g)]
            lines.append("key terms: " + " + ".join("/".join(g) for g in item.key_terms)
                         + (f" (missed: {' + '.join('/'.join(g) for g in missed)})" if missed else ""))
        lines += [f"gold quote ({', '.join(item.sources)}): {q}" for q in item.quotes]
        lines += [f"cited {c['source']} {c['start']}:{c['end']}: {c['quote']}" for c in record.get("citations") or []]
        lines.append("retrieved: " + ", ".join(record.get("retrieved") or []))
        if other and item.id in other:
            lines.append(f"baseline answer: {other[item.id].get('answer') or ''}")
        blocks += [("h3", f"{item.id} ({item.type}): {verdict}"), ("items", lines)]
    return blocks or [("p", "No failures.")]


def retrieval_miss_blocks(items: Mapping[str, Item], scores: Sequence[Mapping], records: Mapping[str, Mapping],
                          limit: int = 10) -> list[tuple]:
    """Answerable items whose evidence missed every gold quote, with what was retrieved instead."""
    blocks: list[tuple] = []
    for score in [s for s in scores if s["answerable"] and not s["evidence_hit"]][:limit]:
        item, record = items[score["id"]], records[score["id"]]
        lines = [f"query: {record['query']}", "gold sources: " + ", ".join(item.sources)]
        lines += [f"gold quote: {q}" for q in item.quotes]
        lines.append("retrieved: " + ", ".join(record["retrieved"]))
        lines += [f"evidence {e['source']} {e['start']}:{e['end']} ({e['score']:.3f}): {e['text']}"
                  for e in record["evidence"][:3]]
        rank = round(1 / score["rr"]) if score["rr"] else "none"
        blocks += [("h3", f"{item.id} ({item.type}): first gold source at rank {rank}"), ("items", lines)]
    return blocks or [("p", "Every answerable item's evidence overlaps a gold quote.")]


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")


def render_markdown(blocks: Sequence[tuple]) -> str:
    out = []
    for kind, *rest in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + _md_cell(rest[0]))
        elif kind == "p":
            out.append(_md_cell(rest[0]))
        elif kind == "items":
            out.append("\n".join(f"- {_md_cell(line)}" for line in rest[0]))
        elif kind == "img":
            out.append(f"![{_md_cell(rest[1])}]({rest[0]})")
        elif kind == "table":
            header, rows = rest
            out.append("\n".join(["| " + " | ".join(map(_md_cell, header)) + " |", "|" + "---|" * len(header)]
                                 + ["| " + " | ".join(map(_md_cell, row)) + " |" for row in rows]))
    return "\n\n".join(out) + "\n"


STYLE = ("body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;line-height:1.4}"
         "table{border-collapse:collapse;margin:1rem 0}"
         "td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}"
         "th{background:#f3f3f3}img{max-width:100%}li{margin:.2rem 0;white-space:pre-wrap}")


def render_html(blocks: Sequence[tuple], out_dir: Path, title: str) -> str:
    esc = html.escape
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title><style>{STYLE}</style>"
           "</head><body>"]
    for kind, *rest in blocks:
        if kind in ("h1", "h2", "h3", "p"):
            out.append(f"<{kind}>{esc(str(rest[0]))}</{kind}>")
        elif kind == "items":
            out.append("<ul>" + "".join(f"<li>{esc(str(line))}</li>" for line in rest[0]) + "</ul>")
        elif kind == "img":
            data = base64.b64encode((out_dir / rest[0]).read_bytes()).decode("ascii")
            out.append(f"<figure><img src='data:image/png;base64,{data}' alt='{esc(rest[1])}'>"
                       f"<figcaption>{esc(rest[1])}</figcaption></figure>")
        elif kind == "table":
            header, rows = rest
            out.append("<table><tr>" + "".join(f"<th>{esc(str(h))}</th>" for h in header) + "</tr>"
                       + "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in rows)
                       + "</table>")
    return "\n".join(out) + "\n</body></html>\n"


def write_reports(out_dir: Path, blocks: Sequence[tuple], title: str = "Eval report") -> None:
    (out_dir / "report.md").write_text(render_markdown(blocks), encoding="utf-8")
    (out_dir / "report.html").write_text(render_html(blocks, out_dir, title), encoding="utf-8")


TYPE_COLUMNS = [("accuracy", "accuracy"), ("token_f1", "F1"), ("key_term_recall", "key-term recall"),
                ("crag_score", "CRAG"), ("repeated_sentence_rate", "repeats"), ("hit@5", "hit@5")]
SPLIT_COLUMNS = [("accuracy", "accuracy"), ("answer_accuracy", "answer accuracy"), ("refusal_rate", "refusal"),
                 ("crag_score", "CRAG")]
RETRIEVAL_TYPE_COLUMNS = [("hit@1", "hit@1"), ("hit@5", "hit@5"), ("evidence_hit", "evidence hit"),
                          ("presence_first_look", "answer in first look"), ("presence_looks", "in both looks")]
DEFINITIONS = ("Accuracy counts an answerable item right when it was not refused and the normalised answer contains a "
               "normalised gold answer or, for an item with key terms (long answers), one term of every key-term group; "
               "an unanswerable item is right when it was refused. A repeat is an answer that says one of its sentences "
               "twice. Intervals are 95% Wilson. No model grades any answer.")


def answer_report(run: Mapping, summaries: Mapping[str, Mapping], records: Mapping[str, Sequence[Mapping]],
                  items: Sequence[Item], plots: Sequence[tuple[str, str]]) -> list[tuple]:
    """Blocks of the answer-pass report: overall and per-type tables, plots, worst failures of the first pipeline."""
    by_item = {item.id: item for item in items}
    first = next(iter(summaries))
    others = [name for name in summaries if name != first]
    blocks = [("h1", f"Eval report: answers ({', '.join(summaries)})"), ("p", describe(run)), ("p", DEFINITIONS),
              ("h2", "Overall"), figures_table({p: s["overall"] for p, s in summaries.items()}, ANSWER_ROWS),
              ("h2", "By question type"), type_table(summaries, TYPE_COLUMNS)]
    if all("by_split" in s for s in summaries.values()):
        blocks += [("h2", "By split (heldout items are kept back from tuning)"),
                   type_table(summaries, SPLIT_COLUMNS, "split")]
    blocks.append(("h2", "Plots"))
    blocks += [("img", name, caption) for name, caption in plots]
    blocks.append(("h2", f"Worst failures ({first})"))
    other = {r["id"]: r for r in records[others[0]]} if others else None
    blocks += failure_blocks(by_item, summaries[first]["scores"], {r["id"]: r for r in records[first]}, other)
    return blocks


def retrieval_report(run: Mapping, summary: Mapping, records: Sequence[Mapping], items: Sequence[Item],
                     plots: Sequence[tuple[str, str]]) -> list[tuple]:
    """Blocks of the retrieval-only report."""
    blocks = [("h1", "Eval report: retrieval only (no generation)"), ("p", describe(run)),
              ("h2", "Overall"), figures_table({"ours": summary["overall"]}, RETRIEVAL_ROWS),
              ("h2", "By question type"), type_table({"ours": summary}, RETRIEVAL_TYPE_COLUMNS),
              ("h2", "By split (heldout items are kept back from tuning)"),
              type_table({"ours": summary}, RETRIEVAL_TYPE_COLUMNS, "split"), ("h2", "Plots")]
    blocks += [("img", name, caption) for name, caption in plots]
    blocks.append(("h2", "Evidence misses"))
    blocks += retrieval_miss_blocks({item.id: item for item in items}, summary["scores"],
                                    {r["id"]: r for r in records})
    return blocks


def describe(run: Mapping) -> str:
    model = "" if run["retrieval_only"] else f"model {run['model']}; "
    return (f"Dataset {run['dataset']} ({run['selection']}, {run['n_items']} items); {model}"
            f"{run['started']}; {run['seconds']:.0f} s; load average {run.get('load_avg')} at start/end (latency is "
            f"only comparable at similar load). Command: {run['command']}")
