"""Where the answer is lost between retrieval and the prompt, stage by stage, for evidence settings side by side.

Usage: python -m bench.presence --corpus seeds,docs,training [--split dev] [--configs 'top_k=6;top_k=10,window=around']
Prints, per corpus (and per split or training package) and config: the share of answerable questions whose answer is
in the retrieved chunks, among the ranked passages, in the first look the model reads, in the first and second looks
together (evals.presence), and the median rank of the first passage holding it alone. Token budgets are counted with
the default model's own tokenizer (its vocabulary only). No language model runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from pathlib import Path

from evals.presence import STAGES, as_pieces, stage_presence
from rag.config import load_settings
from rag.generate.load import token_counter
from training.targets import eval_targets, training_targets


def parse_config(text: str) -> dict:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, value = part.split("=", 1)
        out[key] = int(value) if value.lstrip("-").isdigit() else value
    return out


def measure(targets: list, where: dict, config: dict, count, embedder=None) -> tuple[list[dict], object]:
    from rag.answer.looks import fit_looks
    from rag.pipeline import Pipeline

    pool = config.pop("pool", 2)
    settings = load_settings(seeds_dir=where["seeds_dir"], index_dir=where["index_dir"], **config)
    pipeline = Pipeline(settings, embedder=embedder)
    pipeline.index(progress=False)
    window = settings.n_ctx - settings.max_tokens - 16
    rows = []
    for target in targets:
        began = time.perf_counter()
        chunks = pipeline.retriever.retrieve(target.question)
        ranked = pipeline.select(target.question, chunks, k=pool * settings.evidence_k,
                                 budget_chars=pool * 4 * settings.evidence_tokens)
        looks = fit_looks(target.question, ranked, count, (settings.evidence_tokens, settings.second_look_tokens),
                          window, k=settings.evidence_k)
        seconds = time.perf_counter() - began
        chunk_pieces = [(c.node.metadata["source"], int(c.node.metadata["start"]), int(c.node.metadata["end"]),
                         c.node.text) for c in chunks]
        found = stage_presence(target, chunk_pieces, as_pieces(ranked), [as_pieces(look.passages) for look in looks])
        rows.append({"id": target.id, "group": target.group, "answerable": target.answerable, **found,
                     "looks": found["looks"], "first_tokens": looks[0].tokens if looks else 0,
                     "second_tokens": looks[1].tokens if len(looks) > 1 else 0, "seconds": seconds})
    return rows, pipeline.embedder


def table(rows: list[dict], by_group: bool) -> list[str]:
    groups = defaultdict(list)
    for row in rows:
        if row["answerable"]:
            groups["all"].append(row)
            if by_group:
                groups[row["group"]].append(row)
    lines = []
    for group, members in groups.items():
        shares = " ".join(f"{stage} {sum(r[stage] for r in members) / len(members):.3f}" for stage in STAGES)
        ranks = [r["rank"] for r in members if r["rank"]]
        lines.append(f"  {group:<22} n={len(members):<4} {shares}  rank p50 {statistics.median(ranks) if ranks else '-'}"
                     f"  tokens {statistics.mean(r['first_tokens'] for r in members):.0f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.presence", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="seeds,docs")
    parser.add_argument("--split", default="dev", choices=["dev", "heldout", "all"])
    parser.add_argument("--configs", default="", help="';'-separated settings, e.g. 'top_k=6;top_k=10,evidence_window=around'")
    parser.add_argument("--by-group", action="store_true", help="a line per split or training package")
    parser.add_argument("--out", type=Path, help="write every row as JSON lines here")
    args = parser.parse_args(argv)
    count = token_counter(load_settings())
    embedder = None
    out = args.out.open("w") if args.out else None
    for corpus in args.corpus.split(","):
        targets, where = training_targets() if corpus == "training" else eval_targets(corpus, args.split)
        for text in args.configs.split(";"):
            config = parse_config(text)
            rows, embedder = measure(targets, where, dict(config), count, embedder)
            print(f"{corpus} [{text or 'shipped'}]: {sum(r['answerable'] for r in rows)} answerable, "
                  f"p50 {statistics.median(r['seconds'] for r in rows):.3f} s")
            print("\n".join(table(rows, args.by_group)), flush=True)
            if out:
                for row in rows:
                    out.write(json.dumps({"corpus": corpus, "config": text, **row}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
