"""Time to first token and what a second look costs, this checkout against an earlier commit, interleaved.

Usage: python -m bench.looks_speed --before 267da96 --corpus docs --n 10 --rounds 3 [--out bench/out/looks_speed.json]
The earlier commit is checked out once into bench/out/before-<commit> (git worktree); both answer the same questions
of the eval set (the first n*rounds items of its dev split, in order), one batch of n at a time, the two checkouts
alternating and the first of each round swapped, each in a process of its own with the model loaded and warmed once
(not counted). Both read the same documents and index. Prints, per checkout, time to first token p50/p95 of the
answered questions, and for this checkout the share of questions that read a second look and what reading it took
(Answer.look_s); the CPU and load average before and after. One model job at a time: nothing else may run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from evals.metrics import percentile

ROOT = Path(__file__).resolve().parents[1]
DRIVER = r"""
import json, sys
from evals.__main__ import CORPORA
from evals.dataset import load_items
from rag.answer.engine import Engine
from rag.config import load_settings
from rag.generate.load import load_llm
from rag.pipeline import Pipeline
corpus, ids = sys.argv[1], sys.argv[2].split(",")
chosen = CORPORA[corpus]
settings = load_settings(seeds_dir=sys.argv[3], index_dir=sys.argv[4])
pipeline = Pipeline(settings)
pipeline.index(progress=False)
engine = Engine(pipeline, load_llm(settings))
engine.ask("What is this about?")
items = {i.id: i for i in load_items(chosen.dataset)}
for id_ in ids:
    answer = engine.ask(items[id_].question, items[id_].history)
    decision = getattr(answer, "decision", None)
    print(json.dumps({"id": id_, "ttft_s": answer.ttft_s, "total_s": answer.total_s, "refused": answer.refused,
                      "evidence_s": answer.evidence_s, "look_s": getattr(answer, "look_s", []),
                      "looks": getattr(decision, "looks", 1) if decision else 1}), flush=True)
"""


def checkout(commit: str) -> Path:
    folder = ROOT / "bench" / "out" / f"before-{commit}"
    if not folder.is_dir():
        subprocess.run(["git", "worktree", "add", "--detach", str(folder), commit], cwd=ROOT, check=True)
    return folder


def batch(tree: Path, corpus: str, ids: list[str], seeds_dir: Path, index_dir: Path) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", DRIVER, corpus, ",".join(ids), str(seeds_dir), str(index_dir)],
                          cwd=tree, env=env, capture_output=True, text=True, check=True)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def cpu() -> str:
    lines = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("Model name")), "unknown")


def report(rows: dict[str, list[dict]]) -> list[str]:
    lines = []
    for name, found in rows.items():
        answered = [r["ttft_s"] for r in found if r["ttft_s"] is not None and not r["refused"]]
        lines.append(f"{name}: {len(found)} questions, {len(answered)} answered; first token p50 "
                     f"{percentile(answered, 0.5):.2f} s, p95 {percentile(answered, 0.95):.2f} s")
        second = [r["look_s"][1] for r in found if len(r.get("look_s") or []) > 1]
        if any(r.get("look_s") for r in found):
            took = (f"; reading it took p50 {percentile(second, 0.5):.2f} s, max {max(second):.2f} s" if second
                    else " (the decision file asks for none)")
            lines.append(f"  second look read by {len(second)}/{len(found)}{took}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.looks_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="267da96", help="the earlier commit")
    parser.add_argument("--corpus", choices=["seeds", "docs"], default="docs")
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "looks_speed.json")
    args = parser.parse_args(argv)
    from evals.__main__ import CORPORA
    from evals.dataset import load_items

    chosen = CORPORA[args.corpus]
    seeds_dir, index_dir = chosen.seeds_dir or ROOT / "seeds", chosen.index_dir or ROOT / "index"
    ids = [i.id for i in load_items(chosen.dataset) if i.split == "dev"][:args.n * args.rounds]
    trees = {"before": checkout(args.before), "after": ROOT}
    rows: dict[str, list[dict]] = {"before": [], "after": []}
    load = [os.getloadavg()[0]]
    for n in range(args.rounds):
        part = ids[n * args.n:(n + 1) * args.n]
        for name in (("before", "after") if n % 2 == 0 else ("after", "before")):
            rows[name] += batch(trees[name], args.corpus, part, seeds_dir, index_dir)
            print(f"round {n + 1} {name}: {len(rows[name])} answers", flush=True)
    load.append(os.getloadavg()[0])
    lines = report(rows) + [f"CPU {cpu()}, {os.cpu_count()} cores; load average {load[0]:.2f} before, "
                            f"{load[1]:.2f} after"]
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "summary": lines}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
