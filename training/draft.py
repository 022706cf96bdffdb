"""Questions for the ranker's and the decision's training data, drafted by a bundled generator on the training corpus
with both round trips (retrieval ranks the passage in its top 3; the model's answer from the passage holds the
drafted answer).

Example: python -m training.draft --n 400 --model fast
  -> training/data/drafted.jsonl (resumable: the same command after a kill goes on where it stopped)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from training.corpus import HERE, training_pipeline

# the fast model kept 3 of 12 what/which drafts and none of 11 how/why ones (they come back without an answer, or
# with one that is not in the passage): for training questions, the question kinds that yield
FACTOID_ONLY = ("factoid",)


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from rag.draft.cli import describe
    from rag.draft.question_set import draft_set
    from rag.generate.load import load_llm

    parser = argparse.ArgumentParser(prog="python -m training.draft", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--model", default="fast", help="default | fast (the generator that drafts)")
    parser.add_argument("--out", type=Path, default=HERE / "data" / "drafted.jsonl")
    parser.add_argument("--unanswerable", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1, help="the order passages are tried in (another seed for a "
                        "second process beside the first: each llama.cpp thread on its own core)")
    args = parser.parse_args(argv)
    pipeline = training_pipeline(args.model)
    print(pipeline.index().describe())
    bar = tqdm(total=args.n, desc="drafting", unit="item")
    report = draft_set(pipeline, load_llm(pipeline.settings), args.n, args.out, args.unanswerable, seed=args.seed,
                       on_attempt=lambda report, item: (setattr(bar, "n", report.kept), bar.refresh()),
                       round_trip_answer=True, kinds=FACTOID_ONLY)
    bar.close()
    print(describe(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
