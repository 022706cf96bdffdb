"""What reading the model's hidden states costs: prompt and generation tok/s with no callback, with the C capture
installed but off, capturing the shipped probes' layers (what `rag ask` reads) and seven (what training reads),
interleaved.

usage: HF_HUB_OFFLINE=1 PYTHONPATH=. .venv/bin/python bench/capture_speed.py [--model default] [--rounds 5]
Each round evaluates the same ~300-token answer prompt from an empty context in every variant in turn (so drift in
the machine's load hits all of them alike), then generates --new tokens greedily. Prints the medians, each
variant's median change against the plain run of the same round, and the best run; writes bench/out/capture_speed.json. Run it alone:
another model on the two cores slows both several times over.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from rag.config import load_settings
from rag.generate.backend import Generation
from rag.generate.llama_backend import LlamaCppBackend
from rag.generate.models import GGUF_MODELS, gguf_path
from rag.generate.prompts import Passage, answer_messages

PASSAGES = [Passage("Relay manual > Network", "The relay listens on port 7411 unless --port is given. Each peer keeps "
                    "one connection open; when it drops, the relay waits PingTimeout seconds (default 60) before it "
                    "tries again, doubling the wait each time up to MaxTimeout (default 900)."),
            Passage("Relay manual > Keys", "Keys are made with relay keygen and kept in /etc/relay/keys. A key that is "
                    "older than KeyExpire days (default 3650) is refused at start, and the relay says which one."),
            Passage("Relay manual > Logging", "The relay logs to syslog unless --log is given. LogLevel 0 logs errors "
                    "only; 3 logs every packet, which slows a busy relay noticeably and fills the disk within hours."),
            Passage("Relay manual > Compression", "Compression is off by default. Level 1 to 9 uses zlib, 10 and 11 "
                    "use LZO; a level the peer does not support falls back to none without a warning.")]
# the probes' layers (rag/answer/probes/default.json: sufficiency 20, correctness 17; the fast model has none yet, so
# two middle layers stand in) and training's seven, of 28 and 24
LAYERS = {"default": ((17, 20), (6, 10, 14, 17, 20, 23, 27)), "fast": ((12, 16), (4, 8, 10, 12, 16, 20, 23))}
QUESTION = "How long does the relay wait after a connection drops, and what is the longest it will wait?"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def run(backend: LlamaCppBackend, messages: list[dict], new: int, capture: bool) -> tuple[float, float]:
    """(prompt tok/s, generation tok/s) of one answer from an empty context."""
    backend.llm.n_tokens = 0  # forget the KV cache: the whole prompt is evaluated
    info = Generation(capture=capture)
    began = time.perf_counter()
    first = None
    for _ in backend.stream(messages, new, info):
        first = first or time.perf_counter()
    ended = time.perf_counter()
    generated = len(info.logprobs)
    return info.prompt_tokens / ((first or ended) - began), (generated - 1) / (ended - first) if first else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", choices=list(GGUF_MODELS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--new", type=int, default=32, help="tokens generated per answer")
    args = parser.parse_args()
    settings = load_settings(model=args.model)
    path = str(gguf_path(args.model, settings.cache_dir, settings.weights))
    spec = GGUF_MODELS[args.model]

    def backend(capture: bool) -> LlamaCppBackend:
        return LlamaCppBackend(path, args.model, settings.n_ctx, settings.n_threads, spec.small_model,
                               cache_dir=settings.cache_dir if capture else None)

    plain, installed, probes, seven = backend(False), backend(True), backend(True), backend(True)
    probes.watch(LAYERS[args.model][0])
    seven.watch(LAYERS[args.model][1])
    variants = {"no callback": (plain, False), "capture installed, off": (installed, False),
                "capturing 2 layers": (probes, True), "capturing 7 layers": (seven, True)}
    messages = answer_messages(QUESTION, PASSAGES, small_model=spec.small_model)
    for b, capture in variants.values():  # warm-up: page the weights in, build the graphs
        run(b, messages, 4, capture)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for round_ in range(args.rounds):
        order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
        for name in order:
            results[name].append(run(variants[name][0], messages, args.new, variants[name][1]))
    report = {"cpu": cpu_model(), "load_after": os.getloadavg(), "model": args.model, "rounds": args.rounds,
              "prompt_tokens": plain.count_tokens(messages), "generated": args.new, "variants": {}}
    print(f"{report['cpu']}, {args.model}, {report['prompt_tokens']}-token prompt, {args.new} new tokens, "
          f"{args.rounds} rounds interleaved; load {os.getloadavg()[0]:.2f} at the end")
    base = results["no callback"]
    for name, runs in results.items():
        prompt, gen = statistics.median(p for p, _ in runs), statistics.median(g for _, g in runs)
        # the machine's speed drifts between rounds: each run is compared with the plain run of its own round
        paired_prompt = statistics.median(p / b[0] - 1 for (p, _), b in zip(runs, base))
        paired_gen = statistics.median(g / b[1] - 1 for (_, g), b in zip(runs, base))
        # a shared CPU only ever slows a run down: the best run is the least disturbed (a fixed cost shows there too)
        best_prompt, best_gen = max(p for p, _ in runs), max(g for _, g in runs)
        report["variants"][name] = {"prompt_tok_s": round(prompt, 2), "generation_tok_s": round(gen, 2),
                                    "prompt_vs_none": round(paired_prompt, 4), "generation_vs_none": round(paired_gen, 4),
                                    "best_prompt_tok_s": round(best_prompt, 2), "best_generation_tok_s": round(best_gen, 2),
                                    "runs": [[round(p, 2), round(g, 2)] for p, g in runs]}
        print(f"  {name:24s} prompt {prompt:6.2f} tok/s ({paired_prompt:+.1%} paired, best {best_prompt:6.2f})   "
              f"generation {gen:6.2f} tok/s ({paired_gen:+.1%} paired, best {best_gen:6.2f})")
    out = Path(__file__).resolve().parent / "out" / "capture_speed.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
