"""Every question read and answered through both looks, with the generator's hidden states kept: what the decision
(rag/answer/decide.py) is fitted and validated on, corpus by corpus.

Example: python -m training.look_states --corpus training     # the training questions (training/data/probe_questions.jsonl)
         python -m training.look_states --corpus docs          # an eval set: every item, dev and heldout
  -> training/out/look-states/<corpus>/records.jsonl, one line per question and look:
       {"id": "d012", "look": 2, "group": "dev", "kind": "factoid", "answerable": true, "present": true,
        "correct": true, "draft": "...", "reasons": [], "grounding": 1.0, "copied": 1.0, "mean_logprob": -0.2, ...}
     and <corpus>/states/<n>.npz: float16 arrays per feature and layer (rag/answer/states.py)
Each question is asked as a user asks it (an eval item with its history and the rewrite; a training question as
written), its passages ranked as the engine ranks them, and both looks are read and drafted from, whatever the
sufficiency probe would say, so that any trigger and threshold can be replayed on the records. Labels: `present`,
the answer in the passages the look shows (evals.presence); `correct`, the draft holds the gold answer (every key
term) or, for a term or FAQ question with no short answer, most of the draft's new words stand in the answering
span. Resumable: a killed run goes on where it stopped. One model job at a time on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from evals.metrics import gives_answer
from evals.presence import Target, as_pieces, holds
from rag.text import content_words
from training.questions import HERE

LAYERS = (10, 14, 17, 20, 23, 27)
OUT = HERE / "out" / "look-states"
MAX_TOKENS = 96  # a draft that runs longer is most often a ramble: its first 96 tokens say what it is
SPAN_SUPPORT = 0.6  # share of a term/FAQ draft's new content words that must stand in the answering span


def draft_correct(draft: str, target: Target, present: bool, span_text: str) -> bool:
    if not present or not draft or not target.answerable:
        return False
    if target.answers:
        return gives_answer(draft, target.answers, target.key_terms)
    new = content_words(draft) - content_words(target.question)
    return bool(new) and len(new & content_words(span_text)) >= SPAN_SUPPORT * len(new)


def save_states(path: Path, found: dict) -> None:
    arrays = {f"{name}-{layer}": vector.astype(np.float16) for name, by_layer in found.items()
              for layer, vector in by_layer.items()}
    partial = path.with_name(f".{path.name}.{os.getpid()}.npz")
    np.savez(partial, **arrays)
    partial.replace(path)


def load_states(path: Path) -> dict[str, dict[int, np.ndarray]]:
    found: dict[str, dict[int, np.ndarray]] = {}
    with np.load(path) as data:
        for key in data.files:
            name, layer = key.rsplit("-", 1)
            found.setdefault(name, {})[int(layer)] = data[key].astype(np.float32)
    return found


class StateLog:
    """records.jsonl plus states/<n>.npz in a folder; `done` holds the (id, look) pairs already there."""

    def __init__(self, folder: Path):
        self.folder = folder
        (folder / "states").mkdir(parents=True, exist_ok=True)
        self.path = folder / "records.jsonl"
        self.done: dict[tuple[str, int], dict] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines() if self.path.is_file() else []:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # the line being written when the run was killed
            if record.get("states") is None or (folder / "states" / record["states"]).is_file():
                self.done[(record["id"], record["look"])] = record

    def add(self, record: dict, found: dict | None) -> None:
        if found:
            record["states"] = f"{len(self.done):05d}.npz"
            save_states(self.folder / "states" / record["states"], found)
        with self.path.open("a", encoding="utf-8") as log:
            log.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.done[(record["id"], record["look"])] = record


def draft(engine, messages: list[dict]):
    """Greedy draft with the states kept, cut where it starts repeating (as the engine cuts it)."""
    from rag.answer.wellformed import loop_start
    from rag.generate.backend import Generation

    info, pieces = Generation(capture=True), []
    stream = engine.llm.stream(messages, MAX_TOKENS, info)
    for delta in stream:
        pieces.append(delta)
        if any(mark in delta for mark in ".!?\n") and (cut := loop_start("".join(pieces))) is not None:
            stream.close()
            info.finish, pieces = "repeat", ["".join(pieces)[:cut]]
            break
    return "".join(pieces).strip(), info


def answer_question(engine, target: Target, meta: dict, log: StateLog, history: list[dict], span_text: str) -> None:
    """Both looks of one question, each read and drafted from, recorded."""
    from rag.answer.states import features
    from rag.generate.followup import standalone_question

    began = time.perf_counter()
    standalone = standalone_question(engine.llm, target.question, history)
    ranked = engine.pipeline.evidence(standalone.search)
    base = {"id": target.id, "group": target.group, **meta, "answerable": target.answerable,
            "standalone_question": standalone.question,
            "relevance": max((e.score for e in ranked), default=0.0)}
    looks = engine.looks(standalone.question, ranked, second=True) if ranked else []
    if not looks:
        log.add({**base, "look": 1, "no_prompt": True, "present": False, "correct": False}, None)
        return
    for n, look in enumerate(looks, 1):
        if (target.id, n) in log.done:
            continue
        text, info = draft(engine, look.messages)
        checked = engine.check(text, look.passages, standalone.question)
        present = holds(target, as_pieces(look.passages))
        logprobs = info.logprobs
        log.add({**base, "look": n, "looks": len(looks), "present": present,
                 "correct": draft_correct(text, target, present, span_text), "draft": text,
                 "reasons": checked.reasons, "grounding": checked.grounding, "copied": checked.copied,
                 "claims": len(checked.claims), "supported": sum(c.supported for c in checked.claims),
                 "mean_logprob": sum(logprobs) / len(logprobs) if logprobs else None,
                 "min_logprob": min(logprobs) if logprobs else None, "finish": info.finish,
                 "passages": [[e.source, e.start, e.end] for e in look.passages], "added": look.added,
                 "ranks": [e.rank for e in look.passages], "scores": [e.score for e in look.passages],
                 "prompt_tokens": look.tokens, "new_prompt_tokens": info.new_prompt_tokens,
                 "generated_tokens": len(logprobs), "seconds": round(time.perf_counter() - began, 2)},
                features(info, standalone.question))
        began = time.perf_counter()


def work(corpus: str, model: str):
    """(settings, [(target, meta, history, span_text)]) for the corpus."""
    from rag.config import load_settings
    from training.targets import eval_targets, training_targets

    if corpus == "training":
        from training.probe_questions import read

        targets, where = training_targets()
        questions = {q["id"]: q for q in read()}
        jobs = [(t, {"kind": questions[t.id]["kind"], "split": questions[t.id]["split"]}, [], questions[t.id])
                for t in targets]
    else:
        from evals.__main__ import CORPORA
        from evals.dataset import load_items

        targets, where = eval_targets(corpus, "all")
        items = {i.id: i for i in load_items(CORPORA[corpus].dataset)}
        jobs = [(t, {"kind": items[t.id].type, "split": items[t.id].split, "history": bool(items[t.id].history)},
                 items[t.id].history, None) for t in targets]
    settings = load_settings(seeds_dir=where["seeds_dir"], index_dir=where["index_dir"], model=model,
                             max_tokens=MAX_TOKENS, probes=False)
    return settings, jobs


def refresh(corpus: str, model: str, folder: Path) -> int:
    """Recompute what the evidence code says of each recorded look without the model: the ranker's probability and
    the relevance of each passage shown, and the question's best relevance (what the evidence gate reads)."""
    from rag.pipeline import Pipeline

    settings, _ = work(corpus, model)
    pipeline = Pipeline(settings)
    pipeline.index(progress=False)
    path = folder / "records.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    ranked: dict[str, dict] = {}
    for record in records:
        question = record.get("standalone_question")
        if not question or record.get("no_prompt"):
            continue
        if question not in ranked:
            ranked[question] = {(e.source, e.start, e.end): e for e in pipeline.evidence(question)}
        found = ranked[question]
        record["relevance"] = max((e.score for e in found.values()), default=0.0)
        shown = [found.get(tuple(p)) for p in record["passages"]]
        record["ranks"] = [e.rank if e else None for e in shown]
        record["scores"] = [e.score if e else None for e in shown]
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    partial.replace(path)
    print(f"{len(records)} records refreshed in {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.look_states", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=["training", "seeds", "docs"], default="training")
    parser.add_argument("--model", default="default", help="the bundled model whose states are kept")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--out", type=Path, help=f"folder (default {OUT.relative_to(HERE.parent)}/<corpus>-<model>)")
    parser.add_argument("--refresh", action="store_true", help="only recompute the passages' ranks and relevance of "
                        "the records there (after a change to the evidence code that leaves the passages as they are)")
    args = parser.parse_args(argv)
    if args.refresh:
        return refresh(args.corpus, args.model, args.out or OUT / f"{args.corpus}-{args.model}")
    from tqdm import tqdm

    from rag.answer.decide import Decider
    from rag.answer.engine import Engine
    from rag.generate.load import load_llm
    from rag.pipeline import Pipeline

    settings, jobs = work(args.corpus, args.model)
    log = StateLog(args.out or OUT / f"{args.corpus}-{args.model}")
    pipeline = Pipeline(settings)
    pipeline.index(progress=False)
    engine = Engine(pipeline, load_llm(settings), Decider.rules_only("recording: every look is drafted"))
    engine.watch(LAYERS)
    jobs = jobs[:args.limit] if args.limit else jobs
    bar = tqdm(jobs, desc=f"looks {args.corpus}", unit="q", smoothing=0.05)
    for target, meta, history, question in bar:
        if (target.id, 1) in log.done and ((target.id, 2) in log.done or log.done[(target.id, 1)].get("looks", 1) < 2):
            continue
        span_text = ""
        if question and question.get("span"):
            record = pipeline.store.manifest()[question["source"]]
            span_text = pipeline.document(record.file_hash)[0][slice(*question["span"])]
        answer_question(engine, target, meta, log, history, span_text)
        bar.set_postfix(prompts=len(log.done))
    print(f"{len(log.done)} looks in {log.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
