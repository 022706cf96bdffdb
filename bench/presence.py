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

from evals.presence import STAGES, Target, as_pieces, stage_presence

HERE = Path(__file__).resolve().parents[1]


def eval_targets(corpus: str, split: str) -> tuple[list[Target], dict]:
    from evals.__main__ import CORPORA
    from evals.dataset import gold_spans, load_items, retrieval_query

    chosen = CORPORA[corpus]
    seeds_dir = chosen.seeds_dir or HERE / "seeds"
    items = [i for i in load_items(chosen.dataset) if split == "all" or i.split == split]
    targets = [Target(i.id, retrieval_query(i), tuple(i.answers), tuple(map(tuple, i.key_terms)),
                      tuple(gold_spans(i, seeds_dir)) if not i.answers else (), i.split) for i in items]
    return targets, {"seeds_dir": seeds_dir, "index_dir": chosen.index_dir or HERE / "index"}


def training_targets() -> tuple[list[Target], dict]:
    from training.corpus import CORPUS, INDEX
    from training.probe_questions import OUT

    questions = [json.loads(line) for line in OUT.read_text(encoding="utf-8").splitlines() if line.strip()]
    targets = [Target(q["id"], q["question"], tuple(q["answers"]), tuple(map(tuple, q.get("key_terms") or ())),
                      ((q["source"], *q["span"]),) if q.get("span") and not q["answers"] else (), q["package"])
               for q in questions]
    return targets, {"seeds_dir": CORPUS, "index_dir": INDEX}


def token_counter():
    """count_tokens(messages) with the default model's tokenizer, as the engine counts a prompt."""
    from llama_cpp import Llama

    from rag.config import load_settings
    from rag.generate.models import gguf_path

    settings = load_settings()
    llm = Llama(model_path=str(gguf_path("default", settings.cache_dir, settings.weights)), vocab_only=True, verbose=False)

    def count(messages: list[dict]) -> int:
        text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return len(llm.tokenize((text + "<|im_start|>assistant\n").encode(), add_bos=False, special=True))

    return count


def parse_config(text: str) -> dict:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, value = part.split("=", 1)
        out[key] = int(value) if value.lstrip("-").isdigit() else value
    return out


def measure(targets: list[Target], where: dict, config: dict, count, embedder=None) -> tuple[list[dict], object]:
    from rag.answer.looks import fit_looks
    from rag.config import load_settings
    from rag.pipeline import Pipeline

    pool = config.pop("pool", 2)
    settings = load_settings(seeds_dir=where["seeds_dir"], index_dir=where["index_dir"], judge="rules",
                             **{k: v for k, v in config.items()})
    pipeline = Pipeline(settings, embedder=embedder)
    pipeline.index(progress=False)
    window = settings.n_ctx - settings.max_tokens - 16
    rows = []
    for target in targets:
        began = time.perf_counter()
        chunks = pipeline.retriever.retrieve(target.question)
        ranked = pipeline.select(target.question, chunks, k=pool * settings.evidence_k,
                                 budget_chars=pool * 4 * settings.evidence_tokens)
        looks = fit_looks(target.question, ranked, count, settings.evidence_tokens, window, k=settings.evidence_k)
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
    count = token_counter()
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
