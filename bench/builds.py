"""Compare llama-cpp-python builds, one virtualenv each, on prompt-processing and generation speed, in one sitting.

Example: python bench/builds.py compare /tmp/b-portable /tmp/b-dl --rounds 3
         -> one markdown row per build and model, medians over the rounds: prompt tok/s at 130/250/360 tokens,
            generation tok/s, the same as CPU ms per token, and the CPU backend ("linked in", or the DL variant
            picked, e.g. "haswell"), with the 1-minute load average seen around the runs.

Usage:
  python bench/builds.py compare VENV... [--rounds 3] [--models default,fast] [--json OUT]
      runs `VENV/bin/python bench/builds.py measure` for each venv in turn (A B C A B C ...), prints medians.
  VENV/bin/python bench/builds.py measure --model GGUF
      one process: load, warm up, time `Llama.eval` of 130/250/360 prompt tokens after `reset()`, then 64
      greedy tokens; prints one JSON line. 2 threads, n_batch 512, n_ctx 2048, as the chat runs.
  VENV/bin/python bench/builds.py lookup --model GGUF [--preds 0,2,5,10] [--rounds 3]
      prompt-lookup decoding (LlamaPromptLookupDecoding) on an answer that quotes its prompt; "-1" in --preds
      means no draft model at all.
  VENV/bin/python bench/builds.py variants
      for a GGML_BACKEND_DL build: each libggml-cpu-*.so, the score llama.cpp gives it here, and the one picked.

Only the standard library, llama-cpp-python and numpy are imported, so the file runs in any of the venvs.
Prompt text is cut from seeds/ so the tokens are real prose.  A GGML_BACKEND_DL build is made usable by
`load_cpu_backend()`, the function that rag/generate/load.py would call before creating a Llama.
"""

from __future__ import annotations

import _ctypes
import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"default": "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "fast": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"}
MODEL_DIR = Path.home() / ".cache" / "offline-rag"
PROMPT_LENGTHS = (130, 250, 360)
GEN_TOKENS = 64

# /proc/cpuinfo flags that the code of each x86 CPU variant needs (GGML_CPU_ALL_VARIANTS in ggml/src/CMakeLists.txt).
# llama.cpp scores variants from CPUID alone ("FIXME: this does not check for OS support"); the kernel hides the
# flags whose register state it does not enable, so /proc/cpuinfo is the stricter test. The AMX variant
# (sapphirerapids) is left out on purpose: its AMX kernels are what crashed, and zen4 covers the rest of its code.
_HASWELL = {"sse4_2", "avx", "f16c", "fma", "avx2", "bmi2"}
_AVX512 = _HASWELL | {"avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"}
CPU_VARIANT_FLAGS: dict[str, set[str]] = {
    "x64": set(),
    "sse42": {"sse4_2"},
    "sandybridge": {"sse4_2", "avx"},
    "ivybridge": {"sse4_2", "avx", "f16c"},
    "piledriver": {"sse4_2", "avx", "f16c", "fma"},
    "haswell": _HASWELL,
    "alderlake": _HASWELL | {"avx_vnni"},
    "skylakex": _AVX512,
    "cannonlake": _AVX512 | {"avx512vbmi"},
    "cascadelake": _AVX512 | {"avx512_vnni"},
    "icelake": _AVX512 | {"avx512vbmi", "avx512_vnni"},
    "cooperlake": _AVX512 | {"avx512_vnni", "avx512_bf16"},
    "zen4": _AVX512 | {"avx512vbmi", "avx512_vnni", "avx512_bf16"},
}


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return set(line.partition(":")[2].split())


def _variant(path: Path) -> str:
    return path.name[len("libggml-cpu-"):-len(".so")]


def _allowed(path: Path, flags: set[str]) -> bool:
    """Only variants named in CPU_VARIANT_FLAGS, and only when this CPU's flags cover what their code uses."""
    return _variant(path) in CPU_VARIANT_FLAGS and CPU_VARIANT_FLAGS[_variant(path)] <= flags


def _libggml() -> tuple[ctypes.CDLL, Path]:
    import llama_cpp.llama_cpp as bindings

    # Through libllama's own handle: dlsym then searches the libggml.so.0 that libllama loaded. Opening
    # llama_cpp/lib/libggml.so by path would load a second copy (the wheel ships copies, not symlinks) with a
    # second, empty backend registry that llama.cpp never sees.
    ggml = ctypes.CDLL(bindings._lib._name)
    ggml.ggml_backend_reg_count.restype = ctypes.c_size_t
    ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    ggml.ggml_backend_load.restype = ctypes.c_void_p
    return ggml, Path(bindings.__file__).parent / "lib"


def cpu_variant_scores() -> dict[Path, int]:
    """Every libggml-cpu-<variant>.so this install ships, with llama.cpp's own score for this CPU (0: unusable)."""
    _, lib_dir = _libggml()
    scores = {}
    # the vendored CMake installs the variants to <prefix>/bin, i.e. site-packages/bin, not llama_cpp/lib
    for folder in (lib_dir, lib_dir.parents[1] / "bin"):
        for path in sorted(folder.glob("libggml-cpu-*.so")):
            variant = ctypes.CDLL(str(path))
            variant.ggml_backend_score.restype = ctypes.c_int
            scores[path] = variant.ggml_backend_score()
            _ctypes.dlclose(variant._handle)  # as llama.cpp does: only the chosen variant stays loaded
    return scores


def load_cpu_backend() -> str | None:
    """Register the best CPU backend of a GGML_BACKEND_DL build of llama-cpp-python; call before creating a Llama.

    Example: load_cpu_backend() -> "haswell" on an AVX2 CPU (DL build); None on an ordinary build (CPU linked in).
    Such a build has no CPU backend linked in, and llama.cpp looks for one only beside the python executable and
    in the current folder, so Llama() fails with "no backends are loaded". Picks the highest-scoring variant whose
    instructions /proc/cpuinfo allows, never the AMX one.
    """
    ggml, _ = _libggml()
    if ggml.ggml_backend_reg_count():
        return None
    flags = _cpu_flags()
    usable = {path: score for path, score in cpu_variant_scores().items() if score > 0 and _allowed(path, flags)}
    if not usable:
        raise RuntimeError("no usable libggml-cpu-*.so in this llama-cpp-python install; reinstall it")
    best = max(usable, key=usable.get)
    if not ggml.ggml_backend_load(str(best).encode()):
        raise RuntimeError(f"llama.cpp could not load {best}")
    return _variant(best)


def _loaded_cpu_library() -> str:
    maps = Path("/proc/self/maps").read_text()
    names = {line.rsplit("/", 1)[-1] for line in maps.splitlines() if "libggml-cpu" in line}
    return ",".join(sorted(names)) or "?"


def _prose_tokens(llm, count: int) -> list[int]:
    text = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt")))
    tokens = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
    if len(tokens) < count:
        raise SystemExit(f"seeds/ holds only {len(tokens)} tokens; {count} are needed")
    return tokens[:count]


def _open(model: str, **kwargs):
    from llama_cpp import Llama

    variant = load_cpu_backend()
    llm = Llama(model_path=model, n_ctx=2048, n_threads=2, n_threads_batch=2, n_batch=512, seed=0, verbose=False,
                **kwargs)
    return llm, variant or "linked in"


def measure(model: str) -> dict:
    began = time.perf_counter()
    llm, variant = _open(model)
    load_s = time.perf_counter() - began
    tokens = _prose_tokens(llm, max(PROMPT_LENGTHS) + 200)
    llm.reset()
    llm.eval(tokens[400:432])  # warm-up, not counted: first touch of the mapped weights and compute buffers
    # CPU seconds per token beside the wall-clock rates: on a CPU shared with other jobs they move far less
    prompt, prompt_cpu = {}, {}
    for n in PROMPT_LENGTHS:
        llm.reset()
        t0, c0 = time.perf_counter(), time.process_time()
        llm.eval(tokens[:n])
        prompt[n], prompt_cpu[n] = n / (time.perf_counter() - t0), (time.process_time() - c0) / n
    llm.reset()
    first = c_first = None
    for i, _token in enumerate(llm.generate(tokens[:PROMPT_LENGTHS[0]], temp=0.0, top_k=1)):
        if i == 0:
            first, c_first = time.perf_counter(), time.process_time()
        if i == GEN_TOKENS:
            break
    gen, gen_cpu = GEN_TOKENS / (time.perf_counter() - first), (time.process_time() - c_first) / GEN_TOKENS
    return {"model": Path(model).name, "load_s": load_s, "prompt_tok_s": prompt, "gen_tok_s": gen,
            "prompt_cpu_ms_per_tok": {n: 1000 * s for n, s in prompt_cpu.items()}, "gen_cpu_ms_per_tok": 1000 * gen_cpu,
            "cpu_backend": variant, "cpu_library": _loaded_cpu_library()}


def compare(venvs: list[str], rounds: int, models: list[str], out: str | None) -> None:
    rows = []
    for r in range(rounds):
        for venv in venvs:
            for model in models:
                load = os.getloadavg()[0]
                proc = subprocess.run([f"{venv}/bin/python", __file__, "measure", "--model", str(MODEL_DIR / MODELS[model])],
                                      capture_output=True, text=True, check=False)
                if proc.returncode:
                    print(f"{venv} {model}: exit {proc.returncode}\n{proc.stderr[-2000:]}", file=sys.stderr)
                    continue
                row = json.loads(proc.stdout.strip().splitlines()[-1])
                row.update(build=Path(venv).name, model=model, round=r, load_before=load, load_after=os.getloadavg()[0])
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    if out:
        Path(out).write_text(json.dumps(rows, indent=1))
    print("| build | model | " + " | ".join(f"prompt {n} tok/s" for n in PROMPT_LENGTHS)
          + f" | gen {GEN_TOKENS} tok/s | " + " | ".join(f"prompt {n} CPU ms/tok" for n in PROMPT_LENGTHS)
          + " | gen CPU ms/tok | CPU backend | n | load 1-min |")
    print("|---|---|" + "---:|" * (2 * len(PROMPT_LENGTHS) + 2) + "---|---:|---|")
    for model in models:
        for venv in venvs:
            mine = [row for row in rows if row["build"] == Path(venv).name and row["model"] == model]
            if not mine:
                continue
            cells = [f"{statistics.median(row['prompt_tok_s'][str(n)] for row in mine):.0f}" for n in PROMPT_LENGTHS]
            cells.append(f"{statistics.median(row['gen_tok_s'] for row in mine):.1f}")
            cells += [f"{statistics.median(row['prompt_cpu_ms_per_tok'][str(n)] for row in mine):.1f}" for n in PROMPT_LENGTHS]
            cells.append(f"{statistics.median(row['gen_cpu_ms_per_tok'] for row in mine):.1f}")
            loads = [row["load_before"] for row in mine] + [row["load_after"] for row in mine]
            print(f"| {Path(venv).name} | {model} | " + " | ".join(cells)
                  + f" | {mine[0]['cpu_backend']} | {len(mine)} | {min(loads):.1f}-{max(loads):.1f} |")


PASSAGES = [
    "The Harbour Bridge opened in 1932 after eight years of construction. Its steel arch spans 503 metres and"
    " carries eight lanes of road traffic, two railway tracks, a footway and a cycleway. Painting it takes a crew of"
    " about twenty people, and the work never really ends because the salt air attacks the steel.",
    "The city library moved to the old customs house in 2011. It now lends about two million books a year and keeps"
    " a reading room that stays open until midnight on weekdays. Members can also borrow tools, sewing machines and"
    " musical instruments, which the library began lending during the renovation of the building.",
    "The botanic garden was founded in 1816 on the site of the colony's first farm. Its herbarium holds more than one"
    " million plant specimens collected over two centuries. Guided walks leave the visitor centre at ten every"
    " morning, and the palm grove is closed after storms because falling fronds have injured visitors.",
    "The ferry service to the northern beaches was cut back in 2019 because the wharf at Manly needed urgent repairs"
    " to its timber piles. The council said the repairs would take eighteen months and cost 40 million dollars."
    " During the works, buses ran every ten minutes between the city and the beaches.",
]
QUESTION = "Why was the ferry service to the northern beaches cut back, and what did the council say about the repairs?"
SYSTEM = "Answer from the numbered passages only: copy the sentences that answer word for word, then cite them as [n]."
# The reply is started for the model so that it quotes rather than paraphrases: the case prompt lookup is for.
ANSWER_START = 'Passage [4] says: "'


def _lookup_prompt() -> str:
    passages = "\n\n".join(f"[{i}] {text}" for i, text in enumerate(PASSAGES, 1))
    return (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{passages}\n\nQuestion: {QUESTION}<|im_end|>\n"
            f"<|im_start|>assistant\n{ANSWER_START}")


def lookup(model: str, preds: list[int], rounds: int) -> None:
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    prompt = _lookup_prompt()
    runs: dict[int, list[dict]] = {n: [] for n in preds}
    for _ in range(rounds):
        for n in preds:  # interleaved, a fresh Llama each time: the draft model is fixed at construction
            draft = None if n < 0 else LlamaPromptLookupDecoding(num_pred_tokens=n)
            llm, _variant = _open(model, draft_model=draft)
            llm.eval(llm.tokenize(b"Warm up the compute buffers.", add_bos=False))
            llm.reset()
            t0 = time.perf_counter()
            first, text = None, ""
            for chunk in llm.create_completion(prompt, stream=True, temperature=0.0, top_k=1, max_tokens=80, seed=0,
                                               stop=["<|im_end|>"]):
                delta = chunk["choices"][0]["text"]
                if delta:
                    first = first or time.perf_counter()
                    text += delta
            total = time.perf_counter() - t0
            answer_tokens = len(llm.tokenize(text.encode("utf-8"), add_bos=False))
            prompt_tokens = len(llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))
            runs[n].append({"prompt_tokens": prompt_tokens, "answer_tokens": answer_tokens,
                            "ttft_s": first - t0, "total_s": total,
                            "gen_tok_s": (answer_tokens - 1) / (total - (first - t0)), "text": text})
            print(json.dumps({"num_pred_tokens": n, **runs[n][-1]}), file=sys.stderr, flush=True)
            del llm
    reference = runs[preds[0]][0]["text"]
    print("| num_pred_tokens | prompt tokens | answer tokens | first token s | total s | gen tok/s | text as first row |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for n in preds:
        mine = runs[n]
        same = all(run["text"] == reference for run in mine)
        print(f"| {'off' if n < 0 else n} | {mine[0]['prompt_tokens']} | {mine[0]['answer_tokens']} "
              f"| {statistics.median(r['ttft_s'] for r in mine):.2f} | {statistics.median(r['total_s'] for r in mine):.2f} "
              f"| {statistics.median(r['gen_tok_s'] for r in mine):.1f} | {'same' if same else 'DIFFERENT'} |")
    print("\nanswer (first row):\n" + reference)
    for n in preds:
        for run in runs[n]:
            if run["text"] != reference:
                print(f"\nanswer with num_pred_tokens={n}:\n" + run["text"])
                break


def variants() -> None:
    flags = _cpu_flags()
    for path, score in cpu_variant_scores().items():
        print(f"{path}  score={score}  {'usable' if score and _allowed(path, flags) else 'skipped'}")
    print("picked:", load_cpu_backend())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("compare")
    p.add_argument("venvs", nargs="+")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--models", default="default,fast")
    p.add_argument("--json")
    p = sub.add_parser("measure")
    p.add_argument("--model", required=True)
    p = sub.add_parser("lookup")
    p.add_argument("--model", default=str(MODEL_DIR / MODELS["default"]))
    p.add_argument("--preds", default="-1,0,2,5,10")
    p.add_argument("--rounds", type=int, default=3)
    sub.add_parser("variants")
    args = parser.parse_args()
    if args.command == "compare":
        compare(args.venvs, args.rounds, args.models.split(","), args.json)
    elif args.command == "measure":
        print(json.dumps(measure(args.model)))
    elif args.command == "lookup":
        lookup(args.model, [int(n) for n in args.preds.split(",")], args.rounds)
    else:
        variants()


if __name__ == "__main__":
    main()
