"""`rag draft` and `python -m evals draft`: draft an eval set from the documents folder, with a progress bar.

Example: python -m rag draft --seeds-dir evals/corpora/docs --n 50 --out mine.jsonl
  -> drafting: 100%|████| 50/50 [08:20<00:00, 6.0 item/min, tried=71]
     kept 50 of 71 tries in 500 s (6.0 items/min): mine.jsonl; not kept: the answer is not in the quote 9, ...
Then `python -m evals --dataset mine.jsonl --seeds-dir DIR` runs it. Indexes the folder first (only what changed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rag.errors import RagError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=50, help="items to keep (default 50)")
    parser.add_argument("--out", type=Path, required=True, help="the eval set to write (JSON lines); a run killed "
                        "before the end is resumed by the same command")
    parser.add_argument("--unanswerable", type=float, default=0.1, help="share of unanswerable items (default 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="the order passages are tried in")
    parser.add_argument("--answer-check", action="store_true", help="also have the model answer each question from "
                        "its passage and keep it only when that answer holds the drafted one (slower; the training "
                        "questions are drafted so)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def describe(report) -> str:
    reasons = ", ".join(f"{reason} {count}" for reason, count in report.reasons.most_common())
    earlier = f", {report.resumed} of them by an earlier run" if report.resumed else ""
    return (f"kept {report.kept} of {report.tried} tries{earlier}; {report.seconds:.0f} s ({report.per_minute:.1f} "
            f"items/min this run): {report.out}" + (f"; not kept: {reasons}" if reasons else ""))


def run(settings, args: argparse.Namespace) -> int:
    """Index the folder, load the generator, draft; print one summary line."""
    from tqdm import tqdm

    from rag.draft.question_set import UnusableDrafter, draft_set
    from rag.generate.load import load_llm
    from rag.pipeline import Pipeline

    pipeline = Pipeline(settings)
    pipeline.index(progress=not args.quiet)
    llm = load_llm(settings)
    bar = tqdm(total=args.n, desc="drafting", unit="item", disable=args.quiet)
    bar.update(0)

    def on_attempt(report, item) -> None:
        bar.n = report.kept
        bar.set_postfix(tried=report.tried, per_min=f"{report.per_minute:.1f}")

    try:
        report = draft_set(pipeline, llm, args.n, args.out, args.unanswerable, args.seed, on_attempt=on_attempt,
                           round_trip_answer=args.answer_check)
    except UnusableDrafter as exc:
        raise RagError(f"{exc} (--model default)") from None
    finally:
        bar.close()
    print(describe(report))
    return 0
