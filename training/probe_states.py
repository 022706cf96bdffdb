"""The generator's hidden states on the engine's own answer prompts, with labels, for training and measuring probes.

Example: python -m training.probe_states                       # the training questions (training.probe_questions)
         python -m training.probe_states --corpus docs          # an eval set: every item, dev and heldout
  -> training/out/probe-states/<set>/records.jsonl, one line per prompt:
       {"id": "pq0001/retrieved", "kind": "term", "split": "train", "sufficient": 1, "correct": true,
        "draft": "...", "refused": false, "reasons": [], "grounding": 1.0, "evidence_score": 0.71, ...}
     and <set>/states/<n>.npz: float16 (layers, width) arrays per feature (rag.answer.probes.features)
Each training question gives the prompt as retrieval finds it ("retrieved": sufficient when a passage holds its
answer) and, when that holds the answer, the same question over the same passages minus every one that overlaps the
answer's span or contains the answer, refilled with the next-best ("removed": not sufficient, same topic). An eval
item is answered by the engine as a user would be (its history, rewriting and retrieval), once, and, when its passages
hold the gold answer, once more with the answer taken out. Every prompt is answered greedily with the states kept (the
probes themselves are off: every draft is made); `correct` labels the draft: the gold answer or all its key terms in
it (evals.metrics), for term and FAQ questions most of its new words in the answering passage; never on a prompt
whose answer was taken out, nor on a training prompt that lacks it. Resumable: a killed run goes on where it
stopped. One model job at a time on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from evals.metrics import contains_answer, gives_answer
from rag.text import content_words
from training.build_pairs import HERE

LAYERS = (6, 10, 14, 17, 20, 23, 27)  # the reference measured these (../shared/probe-reference); 17 was best
OUT = HERE / "out" / "probe-states"
MAX_TOKENS = 96  # a draft that runs longer is most often a ramble: its first 96 tokens say what it is
POOL = 3  # times the engine's passages and characters searched for the next-best passages of a "removed" prompt
SPAN_SUPPORT = 0.6  # share of a term/FAQ draft's new content words that must stand in the answering passage


def overlaps(item, spans: list) -> bool:
    """Whether an evidence passage overlaps one of the (source, start, end) spans."""
    return any(item.source == source and item.start < end and start < item.end for source, start, end in spans)


def spans_of(question: dict) -> list:
    return [(question["source"], *question["span"])] if question.get("span") else []


def holds_answer(evidence: list, question: dict) -> bool:
    """Whether the passages hold the question's answer: one overlaps its span (and, for a short answer, states it)."""
    near = [e for e in evidence if overlaps(e, spans_of(question))]
    if question["answers"]:
        return any(contains_answer(e.text, question["answers"]) for e in near)
    return bool(near)


def without_answer(pipeline, question: str, spans: list, answers: list[str], settings) -> list:
    """The engine's passages for the question with every one that overlaps an answer span or states the answer
    taken out, refilled with the next-best passages of a larger search."""
    from rag.pipeline import CHARS_PER_TOKEN
    from rag.search.rerank import within_budget

    budget = CHARS_PER_TOKEN * settings.evidence_tokens
    pool = pipeline.evidence(question, k=POOL * settings.evidence_k, budget_chars=POOL * budget)
    kept = [e for e in pool if not overlaps(e, spans) and not (answers and contains_answer(e.text, answers))]
    return within_budget(kept, settings.evidence_k, budget)


def draft_correct(draft: str, question: dict, sufficient: bool, span_text: str) -> bool:
    if not sufficient or not draft:
        return False
    if question["answers"]:
        return gives_answer(draft, question["answers"], question.get("key_terms") or ())
    new = content_words(draft) - content_words(question["question"])
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


def answer_record(answer, question: str) -> dict:
    """What the rules and the trained judge made of the draft, beside the probes' inputs."""
    from rag.answer.probes import features

    judge = answer.judge.public() if answer.judge else {}
    record = {"draft": answer.draft, "refused": answer.refused, "reasons": judge.get("reasons", []),
              "refusal_reason": answer.refusal_reason, "grounding": answer.grounding,
              "evidence_score": max((e.score for e in answer.evidence), default=0.0),
              "best_passage": max(((e.answer_score or 0.0) for e in answer.evidence), default=0.0),
              "claims_judged": [c.judged for c in answer.claims], "supported": [c.supported for c in answer.claims],
              "finish": answer.generation.finish if answer.generation else "", "answer": answer.answer,
              "prompt_tokens": answer.prompt_tokens, "generated_tokens": answer.generated_tokens,
              "citations": [c.public() for c in answer.citations], "standalone_question": answer.standalone_question,
              "retrieved": list(dict.fromkeys(e.source for e in answer.evidence)), "total_s": round(answer.total_s, 2)}
    found = features(answer.generation, question) if answer.generation and answer.generation.states is not None else None
    return record, found


class StateLog:
    """records.jsonl plus states/<n>.npz in a folder; `done` holds the ids already there (a resumed run skips them)."""

    def __init__(self, folder: Path):
        self.folder = folder
        (folder / "states").mkdir(parents=True, exist_ok=True)
        self.path = folder / "records.jsonl"
        self.done: dict[str, dict] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # the line being written when the run was killed
                if record.get("states") is None or (folder / "states" / record["states"]).is_file():
                    self.done[record["id"]] = record

    def add(self, record: dict, found: dict | None) -> None:
        if found is not None:
            record["states"] = f"{len(self.done):05d}.npz"
            save_states(self.folder / "states" / record["states"], found)
        with self.path.open("a", encoding="utf-8") as log:
            log.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.done[record["id"]] = record


def training_prompts(engine, pipeline, question: dict, log: StateLog) -> None:
    """The question as retrieved and, when that holds its answer, with the answer removed."""
    from rag.answer.result import Answer

    span_text = ""
    if question.get("span"):
        record = pipeline.store.manifest()[question["source"]]
        span_text = pipeline.document(record.file_hash)[0][slice(*question["span"])]
    variants = [("retrieved", None)]
    for variant, evidence in variants:
        key = f"{question['id']}/{variant}"
        if key in log.done:
            sufficient = log.done[key].get("sufficient")
        else:
            began = time.perf_counter()
            if evidence is None:
                evidence = pipeline.evidence(question["question"])
            answer: Answer = engine.ask(question["question"], evidence=evidence)
            sufficient = int(holds_answer(answer.evidence, question))
            record, found = answer_record(answer, question["question"])
            record.update(id=key, question=question["question"], kind=question["kind"], variant=variant,
                          split=question["split"], package=question["package"], sufficient=sufficient,
                          answerable=question.get("span") is not None,
                          correct=draft_correct(answer.draft, question, bool(sufficient), span_text),
                          seconds=round(time.perf_counter() - began, 2))
            log.add(record, found)
        if variant == "retrieved" and sufficient:
            variants.append(("removed", without_answer(pipeline, question["question"], spans_of(question),
                                                       question["answers"], engine.settings)))


def eval_prompts(engine, item, log: StateLog, spans: list) -> None:
    """One eval item, answered as a user would be answered (history, rewrite, retrieval), states kept; and, when its
    passages hold the gold answer, the standalone question over them with the answer taken out ("removed")."""
    from evals.metrics import contains_answer as said

    standalone = log.done.get(item.id, {}).get("standalone_question")
    for variant in ("engine", "removed"):
        key = item.id if variant == "engine" else f"{item.id}/removed"
        if key in log.done:
            if variant == "engine" and not log.done[key]["sufficient"]:
                return
            continue
        began = time.perf_counter()
        if variant == "engine":
            answer = engine.ask(item.question, item.history)
            standalone = answer.standalone_question
        else:
            answer = engine.ask(standalone, evidence=without_answer(engine.pipeline, standalone, spans, item.answers,
                                                                    engine.settings))
        record, found = answer_record(answer, answer.standalone_question)
        passages = " ".join(e.text for e in answer.evidence)
        sufficient = int(bool(item.answers) and said(passages, item.answers) and variant == "engine")
        correct = variant == "engine" and bool(item.answers) and bool(answer.draft) and gives_answer(
            answer.draft, item.answers, item.key_terms)
        record.update(id=key, question=item.question, kind=item.type, variant=variant, split=item.split,
                      answerable=bool(item.answers), sufficient=sufficient, correct=correct,
                      history=bool(item.history), seconds=round(time.perf_counter() - began, 2))
        log.add(record, found)
        if variant == "engine" and not sufficient:
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.probe_states", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=["training", "seeds", "docs"], default="training",
                        help="training: the questions of training/data/probe_questions.jsonl; seeds|docs: an eval set")
    parser.add_argument("--model", default="default", help="the bundled model whose states are kept")
    parser.add_argument("--limit", type=int, help="only the first N questions (a resumed run counts them again)")
    parser.add_argument("--out", type=Path, help=f"folder (default {OUT.relative_to(HERE.parent)}/<corpus>-<model>)")
    args = parser.parse_args(argv)
    from tqdm import tqdm

    from rag.answer.engine import Engine
    from rag.config import load_settings
    from rag.generate.load import load_llm
    from rag.pipeline import Pipeline

    log = StateLog(args.out or OUT / f"{args.corpus}-{args.model}")
    if args.corpus == "training":
        from training.corpus import CORPUS, INDEX
        from training.probe_questions import OUT as QUESTIONS

        settings = load_settings(seeds_dir=CORPUS, index_dir=INDEX, model=args.model, max_tokens=MAX_TOKENS, probes=False)
        work = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        from evals.__main__ import CORPORA
        from evals.dataset import gold_spans, load_items

        corpus = CORPORA[args.corpus]
        settings = load_settings(seeds_dir=corpus.seeds_dir, index_dir=corpus.index_dir, model=args.model, probes=False)
        work = load_items(corpus.dataset)
    pipeline = Pipeline(settings)
    pipeline.index(progress=False)
    engine = Engine(pipeline, load_llm(settings))
    engine.watch(LAYERS)
    work = work[:args.limit] if args.limit else work
    bar = tqdm(work, desc=f"states {args.corpus}", unit="q", smoothing=0.05)
    for entry in bar:
        if args.corpus == "training":
            training_prompts(engine, pipeline, entry, log)
        else:
            eval_prompts(engine, entry, log, gold_spans(entry, settings.seeds_dir))
        bar.set_postfix(prompts=len(log.done))
    print(f"{len(log.done)} prompts in {log.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
