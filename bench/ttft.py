"""Where an answer's time goes, stage by stage: rewrite, retrieval and evidence, prompt processing, generation, judge.

Usage: python bench/ttft.py [--models default,fast] [--n 20] [--index-dir DIR] [--out bench/out/ttft.json]
Each model is loaded once and warmed with one question (not counted), as the chat keeps it warm. The questions are the
first --n answerable single questions and the first --n follow-ups of evals/qa.jsonl (their histories as given), in
that order. Prints p50/p95 per stage, prompt tokens (all, and new: not in the KV cache), prompt and generation
tok/s, and the load average before and after; writes the per-question records to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evals.dataset import load_items  # noqa: E402
from evals.metrics import percentile  # noqa: E402
from rag.answer.engine import Engine  # noqa: E402
from rag.config import load_settings  # noqa: E402
from rag.generate.load import load_llm  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def stages(answer) -> dict:
    """One answer's time per stage (seconds) and token rates."""
    new_tokens = answer.new_prompt_tokens or 0
    prompt_s = (answer.ttft_s or 0.0) - (answer.evidence_s or 0.0)
    generation_s = answer.total_s - answer.judge_s - (answer.ttft_s or answer.total_s)
    return {"rewrite_s": answer.rewrite_s, "retrieval_s": (answer.evidence_s or 0.0) - answer.rewrite_s,
            "prompt_s": prompt_s, "ttft_s": answer.ttft_s, "generation_s": generation_s, "judge_s": answer.judge_s,
            "total_s": answer.total_s, "prompt_tokens": answer.prompt_tokens, "new_prompt_tokens": new_tokens,
            "prompt_tok_s": new_tokens / prompt_s if prompt_s > 0 else None,
            "generated_tokens": answer.generated_tokens,
            "gen_tok_s": answer.generated_tokens / generation_s if generation_s > 0 else None,
            "refused": answer.refused, "refusal_reason": answer.refusal_reason}


def summary(rows: list[dict]) -> str:
    parts = []
    for key in ("rewrite_s", "retrieval_s", "prompt_s", "ttft_s", "generation_s", "judge_s", "total_s",
                "new_prompt_tokens", "prompt_tok_s", "gen_tok_s"):
        values = [r[key] for r in rows if r.get(key) is not None]
        if values:
            parts.append(f"{key} {percentile(values, 0.5):.2f}/{percentile(values, 0.95):.2f}")
    return "  ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="default,fast")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--index-dir")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "ttft.json")
    args = parser.parse_args()
    items = load_items(ROOT / "evals" / "qa.jsonl")
    single = [i for i in items if i.answerable and not i.history][: args.n]
    followups = [i for i in items if i.type == "followup" and i.answerable][: args.n]
    report = {"load_before": os.getloadavg(), "models": {}}
    for model in args.models.split(","):
        settings = load_settings(model=model, index_dir=args.index_dir)
        pipeline = Pipeline(settings)
        pipeline.index(progress=False)
        began = time.perf_counter()
        engine = Engine(pipeline, load_llm(settings))
        load_s = time.perf_counter() - began
        engine.ask("Who met whom?")  # warm-up: loads the embedder, BM25 and the model's fixed prompt prefix
        rows = {"single": [], "followup": []}
        for kind, chosen in (("single", single), ("followup", followups)):
            for item in chosen:
                answer = engine.ask(item.question, item.history)
                rows[kind].append({"id": item.id, "rewrite": answer.rewrite, **stages(answer)})
        report["models"][model] = {"load_s": load_s, **rows}
        for kind, found in rows.items():
            answered = [r for r in found if r["ttft_s"] is not None]
            print(f"{model} {kind}: n={len(found)} (generated {len(answered)}) {summary(answered)}", flush=True)
    report["load_after"] = os.getloadavg()
    print(f"load average before {report['load_before']}, after {report['load_after']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}; median of medians: " + str(statistics.median(
        [r["ttft_s"] for m in report["models"].values() for r in m["single"] if r["ttft_s"] is not None] or [0])))


if __name__ == "__main__":
    main()
