"""`python -m evals`: answer (or only retrieve) every eval question, score it, write a report, gate regressions.

Example: python -m evals --model fast --ids evals/subset_ci.txt --pipeline both --check
  -> evals/out/{results.jsonl, summary.json, report.md, report.html, *.png}; exit 2 if a gated figure regressed
         python -m evals --corpus docs --split dev --retrieval-only
  -> the same over evals/docs_qa.jsonl and evals/corpora/docs (indexed into evals/out/index-docs), dev items only
Errors a user can fix print as one line (exit 1).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from evals import gate, plots, report
from evals.dataset import SPLITS as SPLIT_NAMES
from evals.dataset import Item, gold_spans, load_items
from evals.run import ProgressLog, answer_records, document_texts, engine_ask, log_name, retrieval_records
from evals.summary import summarise_answers, summarise_retrieval
from rag.errors import BadInputError, RagError

HERE = Path(__file__).resolve().parent
PIPELINES = {"ours": ["ours"], "baseline": ["baseline"], "both": ["ours", "baseline"]}
SPLITS = ("all", *SPLIT_NAMES)


@dataclass(frozen=True)
class Corpus:
    """An eval set and the documents it asks about; None leaves the folder to the settings (RAG_SEEDS_DIR ...)."""
    dataset: Path
    seeds_dir: Path | None = None
    index_dir: Path | None = None


# The docs corpus gets its own index folder: the app's index/ holds the seeds, and sharing one would re-embed
# each corpus whenever the other was run.
CORPORA = {
    "seeds": Corpus(HERE / "qa.jsonl"),
    "docs": Corpus(HERE / "docs_qa.jsonl", HERE / "corpora" / "docs", HERE / "out" / "index-docs"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m evals", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=list(CORPORA), default="seeds",
                        help="seeds: qa.jsonl over seeds/; docs: docs_qa.jsonl over corpora/docs (own index folder)")
    parser.add_argument("--dataset", type=Path, help="eval set, JSON lines (default: the corpus's)")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="folder for results and reports")
    parser.add_argument("--model", help="default | fast | http(s) URL of an OpenAI-compatible server (RAG_MODEL)")
    parser.add_argument("--limit", type=int, help="only the first N selected items")
    parser.add_argument("--ids", help="comma-separated item ids, or a file with one id per line (run in that order)")
    parser.add_argument("--split", choices=SPLITS, default="all", help="only the items of this split")
    parser.add_argument("--pipeline", choices=list(PIPELINES), default="ours")
    parser.add_argument("--retrieval-only", action="store_true", help="retrieval metrics only, no generation")
    parser.add_argument("--check", action="store_true", help="exit 2 if a figure regressed beyond its tolerance")
    parser.add_argument("--save-baseline", action="store_true", help="store this run's figures as the gate's reference")
    parser.add_argument("--baseline-file", type=Path, default=HERE / "baseline.json")
    parser.add_argument("--seeds-dir", help="documents folder (default: the corpus's, else RAG_SEEDS_DIR)")
    parser.add_argument("--index-dir", help="index folder (default: the corpus's, else RAG_INDEX_DIR)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted answer run in the same --out (same options): finished items are kept")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def select(items: list[Item], ids: str | None, limit: int | None, split: str = "all") -> tuple[list[Item], str]:
    """The items to run and a name for the selection (part of the gate key)."""
    selection = "all"
    if split != "all":
        items, selection = [item for item in items if item.split == split], split
    if ids:
        path = Path(ids)
        wanted = path.read_text().split() if path.is_file() else [i.strip() for i in ids.split(",") if i.strip()]
        selection = path.stem if path.is_file() else "ids:" + ",".join(wanted)
        if split != "all":
            selection = f"{split}-{selection}"
        known = {item.id for item in items}
        if missing := [i for i in wanted if i not in known]:
            where = "the eval set" if split == "all" else f"the {split} split"
            raise BadInputError(f"ids not in {where}: {', '.join(missing)}")
        by_id = {item.id: item for item in items}
        items = [by_id[i] for i in dict.fromkeys(wanted)]  # in the order given: a long run's first items can be a chosen sample
    if limit is not None:
        if limit < 1:
            raise BadInputError("--limit must be at least 1")
        items, selection = items[:limit], f"{selection}-first{limit}"
    if not items:
        raise BadInputError("no eval items selected")
    return items, selection


def run_answers(args, settings, pipeline, items: list[Item]) -> dict[str, list[dict]]:
    """Each requested pipeline over the same items, one at a time (one model in memory at a time)."""
    records: dict[str, list[dict]] = {}
    logs = {name: ProgressLog(args.out / f"progress-{name}-{log_name(settings.model)}.jsonl", resume=args.resume)
            for name in PIPELINES[args.pipeline]}
    for name in PIPELINES[args.pipeline]:
        if all(item.id in logs[name].done for item in items):  # resumed after this pipeline had finished
            records[name] = [logs[name].done[item.id] for item in items]
            continue
        if name == "ours":
            from rag.answer.engine import Engine
            from rag.generate.load import load_llm

            ask = engine_ask(Engine(pipeline, load_llm(settings)))
        else:
            from evals.baseline import StarterPipeline

            ask = StarterPipeline(settings, pipeline.embedder).ask
        records[name] = list(answer_records(ask, items, name, progress=not args.quiet, log=logs[name]))
        del ask
        gc.collect()  # frees the llama.cpp model before the next pipeline loads its own
    return records


def _draft(argv: list[str]) -> int:
    """`python -m evals draft --seeds-dir DIR --n 50 --out FILE.jsonl`: rag.draft.cli with the evals' defaults."""
    from rag.config import load_settings
    from rag.draft.cli import add_arguments, run

    parser = argparse.ArgumentParser(prog="python -m evals draft", description="draft an eval set from your documents")
    parser.add_argument("--seeds-dir", help="documents folder (default RAG_SEEDS_DIR)")
    parser.add_argument("--index-dir", help="index folder (default RAG_INDEX_DIR)")
    parser.add_argument("--model", help="default | fast | http(s) URL (RAG_MODEL)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        settings = load_settings(seeds_dir=args.seeds_dir, index_dir=args.index_dir, model=args.model)
        return run(settings, args)
    except (RagError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["draft"]:
        return _draft(argv[1:])
    args = _parser().parse_args(argv)
    try:
        return _run(args, "python -m evals " + " ".join(argv))
    except (RagError, ValueError, OSError) as exc:  # ValueError: a bad dataset line; OSError: unreadable paths
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _run(args, command: str) -> int:
    from rag.config import load_settings
    from rag.pipeline import Pipeline

    corpus = CORPORA[args.corpus]
    args.dataset = args.dataset or corpus.dataset
    settings = load_settings(model=args.model, seeds_dir=args.seeds_dir or corpus.seeds_dir,
                             index_dir=args.index_dir or corpus.index_dir)
    items, selection = select(load_items(args.dataset), args.ids, args.limit, args.split)
    args.out.mkdir(parents=True, exist_ok=True)
    began, started = time.perf_counter(), datetime.now(UTC).isoformat(timespec="seconds")
    load_before = os.getloadavg()[0]  # timings on a shared CPU mean little without it
    pipeline = Pipeline(settings)
    pipeline.index(progress=not args.quiet)
    if args.retrieval_only:
        from rag.answer.engine import MIN_EVIDENCE_SCORE
        from rag.generate.load import token_counter

        records = {"ours": list(retrieval_records(pipeline, items, token_counter(settings), progress=not args.quiet))}
        spans = {item.id: gold_spans(item, settings.seeds_dir) for item in items}
        summaries = {"ours": summarise_retrieval(items, records["ours"], spans, MIN_EVIDENCE_SCORE)}
        figures = plots.retrieval_plots(summaries["ours"], args.out)
    else:
        records = run_answers(args, settings, pipeline, items)
        texts = document_texts([r for rs in records.values() for r in rs], settings.seeds_dir)
        summaries = {name: summarise_answers(items, rs, texts) for name, rs in records.items()}
        figures = plots.answer_plots(summaries, args.out)
    run = {"dataset": str(args.dataset), "corpus": args.corpus, "seeds_dir": str(settings.seeds_dir), "split": args.split,
           "selection": selection, "n_items": len(items), "model": settings.model,
           "pipelines": list(records), "retrieval_only": args.retrieval_only,
           "started": started,
           "seconds": time.perf_counter() - began, "command": command,
           "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
           "settings": settings.model_dump(include={"chunk_size", "chunk_overlap", "top_k", "evidence_k", "n_threads",
                                                    "n_ctx", "max_tokens"})}
    kind = "retrieval" if args.retrieval_only else "answers"
    keys = {name: gate.gate_key(kind, name, settings.model, args.dataset, selection) for name in records}
    write_outputs(args.out, run, records, summaries, keys)
    if args.retrieval_only:
        blocks = report.retrieval_report(run, summaries["ours"], records["ours"], items, figures)
    else:
        blocks = report.answer_report(run, summaries, records, items, figures)
    report.write_reports(args.out, blocks)
    overalls = {name: s["overall"] for name, s in summaries.items()}
    print(headline(overalls, args.out))
    if args.save_baseline:
        stored = {name: key for name, key in keys.items() if name == "ours"} or keys  # the baseline is not gated
        gate.save(overalls, stored, args.baseline_file, command)
        print(f"stored figures in {args.baseline_file}")
    if args.check:
        failures = gate.check(overalls, keys, args.baseline_file)
        for failure in failures:
            print(f"REGRESSION {failure}", file=sys.stderr)
        print("gate: " + ("FAILED" if failures else "passed"))
        return 2 if failures else 0
    return 0


def write_outputs(out: Path, run: dict, records: dict, summaries: dict, keys: dict) -> None:
    with (out / "results.jsonl").open("w", encoding="utf-8") as handle:
        for rs in records.values():
            for record in rs:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    summary = {"run": run, "gate_keys": keys,
               "pipelines": {name: {part: s[part] for part in ("overall", "by_type") if part in s}
                             for name, s in summaries.items()}}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def headline(overalls: dict, out: Path) -> str:
    keys = ("n", "accuracy", "answer_accuracy", "refusal_rate", "false_refusal_rate", "crag_score", "quote_exactness",
            "hit@1", "hit@5", "mrr", "evidence_hit", "presence_first_look", "presence_looks", "sufficiency_auc", "second_look_rate",
            "confirmation_auc", "right_when_present",
            "ttft_p50_s", "total_p50_s", "retrieval_p50_s")
    lines = []
    for name, figures in overalls.items():
        shown = [f"{k} {report.fmt(figures[k])}" for k in keys if k in figures]
        lines.append(f"{name}: " + ", ".join(shown))
    return "\n".join(lines) + f"\nreport: {out / 'report.html'}"


if __name__ == "__main__":
    sys.exit(main())
