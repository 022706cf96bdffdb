"""Replay recorded drafts through the engine with the trained judge, to measure and calibrate it without generating
again: the passages are found as the recorded run found them (retrieval's order, so the draft's [n] markers point
where they pointed), the draft is the recorded one, and the judge scores every passage and every sentence.

Example: python -m evals.replay_judge --run evals/runs/judge-seeds --corpus seeds --out evals/out/replay-seeds.jsonl
  -> one line per item: {"id", "split", "answerable", "best_passage": 0.93, "claims": [{"sentence", "cited",
     "rules": true, "judged": 0.88}, ...], "flags": [...], "draft_refused_by_rules": false, ...}
evals/calibrate_judge.py chooses the thresholds from these lines.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evals.dataset import load_items
from rag.errors import RagError


class ReplayLLM:
    """The recorded draft for whatever is asked (answer prompts only: a replayed run asks nothing else); the real
    model's tokenizer counts tokens, so the passages that fit the prompt are the ones that fitted then."""

    def __init__(self, counter):
        self.counter = counter
        self.name, self.small_model, self.logits = "replay", counter.small_model, "none"
        self.states_unavailable, self.model_sha256 = "a replay has no hidden states", None
        self.context_window = counter.context_window
        self.draft = ""

    def count_tokens(self, messages):
        return self.counter.count_tokens(messages)

    def yes_probability(self, messages, reply=None):
        return None

    def stream(self, messages, max_tokens, info=None, gate=None):
        yield self.draft


def replay_item(engine, llm: ReplayLLM, record: dict) -> dict:
    llm.draft = record.get("draft") or ""
    answer = engine.ask(record["standalone_question"])
    claims = [{"sentence": c.sentence, "cited": list(c.cited), "rules": c.supported, "judged": c.judged}
              for c in answer.claims]
    reasons = answer.judge.reasons if answer.judge else [answer.refusal_reason or ""]
    return {"best_passage": max((e.answer_score or 0.0) for e in answer.evidence) if answer.evidence else 0.0,
            "passages": [e.answer_score for e in answer.evidence], "claims": claims,
            "best_retrieval": max((e.score for e in answer.evidence), default=0.0),
            "flags": [r for r in reasons if r and not r.startswith(("dropped", "only "))],
            "gate": answer.refusal_reason if not answer.draft else None, "refused_now": answer.refused,
            "answer_now": answer.answer}


def main(argv: list[str] | None = None) -> int:
    from evals.__main__ import CORPORA
    from rag.answer.engine import Engine
    from rag.answer.evidence_judge import EvidenceJudge
    from rag.config import load_settings
    from rag.generate.load import load_llm
    from rag.pipeline import Pipeline

    parser = argparse.ArgumentParser(prog="python -m evals.replay_judge", description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="an eval run folder with progress-ours-default.jsonl")
    parser.add_argument("--corpus", choices=list(CORPORA), required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--judge-dir", type=Path, help="the judge's weights (default rag/answer/judge_model)")
    args = parser.parse_args(argv)
    corpus = CORPORA[args.corpus]
    items = {item.id: item for item in load_items(corpus.dataset)}
    settings = load_settings(seeds_dir=corpus.seeds_dir, index_dir=corpus.index_dir, judge="trained",
                             judge_rerank=False, model="default")
    judge = EvidenceJudge.load(*(args.judge_dir,) if args.judge_dir else ())
    judge.thresholds = {}  # every passage and sentence scored, none refused: the thresholds are what is chosen
    pipeline = Pipeline(settings, judge=judge)
    llm = ReplayLLM(load_llm(settings))
    engine = Engine(pipeline, llm, weights={})
    records = [json.loads(line) for line in (args.run / "progress-ours-default.jsonl").read_text().splitlines()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for record in records:
            item = items.get(record["id"])
            if item is None or not record.get("standalone_question"):
                continue
            try:
                replayed = replay_item(engine, llm, record)
            except RagError as exc:
                replayed = {"error": str(exc)}
            out.write(json.dumps({"id": item.id, "split": item.split, "type": item.type, "answerable": item.answerable,
                                  "recorded_refused": record["refused"], "recorded_answer": record["answer"],
                                  "refusal_reason": record.get("refusal_reason"), **replayed}, ensure_ascii=False) + "\n")
    print(f"replayed {len(records)} records -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
