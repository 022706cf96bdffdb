"""Compare weight formats of one bundled model in one sitting: prompt and generation speed, memory and file size.

Example: python -m bench.formats --model default --weights q4_k_m,q8_0,q4_0 --runs 5
  -> one markdown row per variant, medians over the runs: prompt tok/s over 3 cold 250-token prompts cut from seeds/
     (the context is reset before each: no KV reuse), generation tok/s (64 greedy tokens, argmax over the logits as
     rag/generate/llama_backend.py does), CPU ms per token (steadier than tok/s on a shared CPU), load s, the MiB llama.cpp
     repacked at load, RSS and file size; then the load average before and after, and each variant's greedy text.
Sweep: --threads 1,2 --threads-batch 2 --batch 128,512 --ubatch 128,512: every combination with every format is a
variant (the defaults are what the chat runs: RAG_N_THREADS, n_batch 512, n_ubatch 512).
Each measurement is a fresh process (`python -m bench.formats measure ...`), run in turn A B C A B C ..., so the RSS
is that variant's alone and no variant always runs first or on a warmer page cache. The files are made by
`python -m rag models --model X --weights all`; this only reads them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import load_settings  # noqa: E402
from rag.errors import RagError  # noqa: E402
from rag.generate.models import WEIGHTS, gguf_path  # noqa: E402

KNOBS = ("threads", "threads_batch", "batch", "ubatch")


def prose_prompts(llm, count: int, length: int) -> list[list[int]]:
    """count different prompts of `length` tokens of real prose, cut one after another from seeds/*.txt."""
    text = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt")))
    tokens = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
    if len(tokens) < count * length + 32:
        raise SystemExit(f"seeds/ holds only {len(tokens)} tokens; {count * length + 32} are needed")
    return [tokens[32 + i * length: 32 + (i + 1) * length] for i in range(count)]


def _memory_mb() -> dict[str, float]:
    status = Path("/proc/self/status").read_text()
    found = {key: int(kb) / 1024 for key, kb in re.findall(r"^(VmRSS|VmHWM|RssAnon|RssFile):\s+(\d+) kB", status, re.M)}
    return {"rss_mb": found["VmRSS"], "peak_rss_mb": found["VmHWM"], "anon_mb": found["RssAnon"], "file_mb": found["RssFile"]}


def _load(path: str, knobs: dict, n_ctx: int):
    """A Llama as rag/generate/llama_backend.py makes one, and the MiB of weights llama.cpp repacked for its CPU kernels
    (read from its load log, which goes to the llama-cpp-python logger while verbose)."""
    from llama_cpp import Llama

    log = io.StringIO()
    with contextlib.redirect_stderr(log):
        llm = Llama(model_path=path, n_ctx=n_ctx, n_threads=knobs["threads"], n_threads_batch=knobs["threads_batch"],
                    n_batch=knobs["batch"], n_ubatch=knobs["ubatch"], seed=0, verbose=True)
    llm.verbose = False
    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)  # the load log was all that was wanted
    repacked = sum(float(mib) for mib in re.findall(r"CPU_REPACK model buffer size =\s*([\d.]+) MiB", log.getvalue()))
    return llm, repacked


def measure(path: str, knobs: dict, n_ctx: int, prompts: int, length: int, gen_tokens: int) -> dict:
    """One process, one variant: load, warm up, cold prompts, then greedy generation; one JSON-able record."""
    import llama_cpp
    import numpy as np

    began = time.perf_counter()
    llm, repacked = _load(path, knobs, n_ctx)
    load_s = time.perf_counter() - began
    chosen = prose_prompts(llm, prompts, length)
    llm.eval(chosen[0][:32])  # warm-up, not counted: first touch of the mapped weights and compute buffers
    wall = cpu = 0.0
    for tokens in chosen:
        llm.reset()  # cold: eval() drops the KV cells past n_tokens, so every token is computed again
        t0, c0 = time.perf_counter(), time.process_time()
        llm.eval(tokens)
        wall, cpu = wall + time.perf_counter() - t0, cpu + time.process_time() - c0
    generated: list[int] = []
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(gen_tokens):
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
        generated.append(int(np.argmax(logits)))
        llm.eval(generated[-1:])
    gen_wall, gen_cpu = time.perf_counter() - t0, time.process_time() - c0
    total = prompts * length
    return {"load_s": load_s, "repacked_mib": repacked, "prompt_tok_s": total / wall, "prompt_cpu_ms": 1000 * cpu / total,
            "gen_tok_s": gen_tokens / gen_wall, "gen_cpu_ms": 1000 * gen_cpu / gen_tokens, **_memory_mb(),
            "text": llm.detokenize(generated).decode("utf-8", errors="replace")}


def variants(weights: list[str], sweep: dict[str, list[int | None]]) -> list[dict]:
    """Every combination; a threads_batch of None follows threads.
    Example: variants(["q8_0"], {"threads": [1, 2], "threads_batch": [None], "batch": [512], "ubatch": [512]})
    -> [{"weights": "q8_0", "threads": 1, "threads_batch": 1, ...}, {"weights": "q8_0", "threads": 2, "threads_batch": 2, ...}]"""
    chosen = []
    for w, values in itertools.product(weights, itertools.product(*(sweep[k] for k in KNOBS))):
        variant = {"weights": w, **dict(zip(KNOBS, values))}
        variant["threads_batch"] = variant["threads_batch"] or variant["threads"]
        chosen += [variant] if variant not in chosen else []
    return chosen


def run_one(path: Path, variant: dict, args: argparse.Namespace, n_ctx: int) -> dict | None:
    command = [sys.executable, str(Path(__file__).resolve()), "measure", "--path", str(path), "--n-ctx", str(n_ctx),
               "--prompts", str(args.prompts), "--length", str(args.length), "--gen-tokens", str(args.gen_tokens),
               *(f"--{k.replace('_', '-')}={variant[k]}" for k in KNOBS)]
    load = os.getloadavg()[0]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode:
        print(f"{variant}: exit {done.returncode}\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    row = {**variant, **json.loads(done.stdout.strip().splitlines()[-1]), "load_before": load,
           "load_after": os.getloadavg()[0], "size_mb": path.stat().st_size / 1e6}
    print(json.dumps({k: v for k, v in row.items() if k != "text"}), file=sys.stderr, flush=True)
    return row


def table(rows: list[dict], chosen: list[dict]) -> str:
    columns = [("load s", "load_s", ".1f"), ("repacked MiB", "repacked_mib", ".0f"), ("prompt tok/s", "prompt_tok_s", ".0f"),
               ("prompt CPU ms/tok", "prompt_cpu_ms", ".1f"), ("gen tok/s", "gen_tok_s", ".1f"),
               ("gen CPU ms/tok", "gen_cpu_ms", ".1f"), ("RSS MB", "rss_mb", ".0f"), ("anon MB", "anon_mb", ".0f")]
    lines = ["| weights | threads | threads_batch | batch | ubatch | file MB | " + " | ".join(c[0] for c in columns)
             + " | n | load 1-min |", "|---|" + "---:|" * (5 + len(columns)) + "---:|---|"]
    for variant in chosen:
        mine = [r for r in rows if all(r[k] == v for k, v in variant.items())]
        if not mine:
            continue
        cells = [f"{statistics.median(r[key] for r in mine):{fmt}}" for _, key, fmt in columns]
        loads = [r["load_before"] for r in mine] + [r["load_after"] for r in mine]
        lines.append(f"| {' | '.join(str(variant[k]) for k in ('weights', *KNOBS))} | {mine[0]['size_mb']:.0f} | "
                     + " | ".join(cells) + f" | {len(mine)} | {min(loads):.1f}-{max(loads):.1f} |")
    return "\n".join(lines)


def compare(args: argparse.Namespace) -> None:
    settings = load_settings(model=args.model)
    weights = list(WEIGHTS) if args.weights == "all" else args.weights.split(",")
    paths = {w: gguf_path(settings.model, settings.cache_dir, w) for w in weights}  # a missing file stops it here
    default = {"threads": str(settings.n_threads), "threads_batch": "", "batch": "512", "ubatch": "512"}
    sweep = {k: [int(v) if v else None for v in (getattr(args, k) or default[k]).split(",")] for k in KNOBS}
    chosen = variants(weights, sweep)
    before = os.getloadavg()
    rows = [row for _ in range(args.runs) for variant in chosen
            if (row := run_one(paths[variant["weights"]], variant, args, settings.n_ctx)) is not None]
    after = os.getloadavg()
    print(f"model {args.model}, {args.prompts} prompts x {args.length} tokens, {args.gen_tokens} generated tokens, "
          f"{args.runs} runs, n_ctx {settings.n_ctx}; {os.cpu_count()} CPUs\n")
    print(table(rows, chosen))
    print(f"\nload average before {tuple(round(x, 2) for x in before)}, after {tuple(round(x, 2) for x in after)}")
    print("\ngreedy text of each variant's first run:")
    for variant in chosen:
        first = next((r for r in rows if all(r[k] == v for k, v in variant.items())), None)
        if first:
            print(f"- {variant['weights']} {'/'.join(str(variant[k]) for k in KNOBS)}: {first['text'][:160]!r}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", choices=["compare", "measure"], default="compare")
    parser.add_argument("--model", choices=["default", "fast"], default="default")
    parser.add_argument("--weights", default=",".join(WEIGHTS), help=f"comma list of {', '.join(WEIGHTS)}, or all")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--prompts", type=int, default=3, help="cold prompts per run")
    parser.add_argument("--length", type=int, default=250, help="tokens per prompt")
    parser.add_argument("--gen-tokens", type=int, default=64)
    for knob in KNOBS:
        parser.add_argument(f"--{knob.replace('_', '-')}", help="comma list to sweep (n_threads, n_threads_batch, "
                            "n_batch, n_ubatch); threads-batch defaults to threads")
    parser.add_argument("--json", help="write every run's record here")
    parser.add_argument("--path", help=argparse.SUPPRESS)  # measure: the GGUF
    parser.add_argument("--n-ctx", type=int, default=4096, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.command == "measure":
        knobs = {k: int(getattr(args, k)) for k in KNOBS}
        print(json.dumps(measure(args.path, knobs, args.n_ctx, args.prompts, args.length, args.gen_tokens)))
        return
    try:
        compare(args)
    except RagError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
