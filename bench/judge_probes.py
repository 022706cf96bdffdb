"""Which yes/no question tells the judge best whether a draft answers: candidate probes side by side on one eval run.

Usage: python bench/judge_probes.py RUN_DIR [--split dev] [--model default] [--out bench/out/probes.json]
RUN_DIR is an answer run of `python -m evals` (its summary.json names the dataset and documents). For each of its
drafts, the answer prompt is rebuilt exactly as the engine built it (same evidence, same order) and each candidate
probe is asked on it; the draft's label is the fit's (rag/answer/judge.py, evals/fit_judge.py: a gold answer contained,
key-term items left out). Prints each probe's AUC over the drafts, and the mean P(yes) for right and wrong drafts
(for a probe whose yes means "not answered", 1 - P(yes)).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evals.dataset import load_items  # noqa: E402
from evals.fit_judge import auc  # noqa: E402
from evals.metrics import contains_answer  # noqa: E402
from rag.answer.engine import Engine  # noqa: E402
from rag.config import load_settings  # noqa: E402
from rag.generate.followup import standalone_question  # noqa: E402
from rag.generate.load import load_llm  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402

# (name, where it goes, text): "question" probes follow the question in the answer prompt; "answer" probes follow
# the draft as the model's own reply
PROBES = [
    ("answered-above", "question", "\n\nDo the passages above answer this question? Reply yes or no."),
    ("stated", "question", "\n\nIs the answer to this question stated in the passages? Reply yes or no."),
    ("exact-fact", "question", "\n\nDo the passages give the exact fact this question asks for? Reply yes or no."),
    ("own-answer", "answer", "Does your answer answer the question with facts from the passages? Reply yes or no."),
    ("own-answer-strict", "answer", "Is every fact in your answer written in the passages, and does it answer exactly "
                                    "what was asked? Reply yes or no."),
    ("own-answer-direct", "answer", "Does your reply give what the question asks for, not something else the "
                                    "passages say? Reply yes or no."),
    ("missing", "question", "\n\nIs what this question asks for missing from the passages? Reply yes or no."),
]
INVERTED = {"missing"}  # a yes says the passages do not answer: scored as 1 - P(yes)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("--split", choices=["dev", "heldout", "all"], default="dev")
    parser.add_argument("--model", default="default")
    parser.add_argument("--out", type=Path, default=Path("bench/out/probes.json"))
    args = parser.parse_args()
    run = json.loads((args.run / "summary.json").read_text(encoding="utf-8"))["run"]
    items = {item.id: item for item in load_items(Path(run["dataset"]))}
    settings = load_settings(model=args.model, seeds_dir=run.get("seeds_dir"), index_dir=run.get("index_dir"))
    pipeline = Pipeline(settings)
    llm = load_llm(settings)
    engine = Engine(pipeline, llm)
    rows = []
    for log in sorted(args.run.glob(f"progress-ours-{args.model}.jsonl")):
        for line in log.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            item = items[record["id"]]
            if args.split not in ("all", item.split) or item.key_terms or not record.get("draft") and record["refused"]:
                continue
            draft = record.get("draft") or record["answer"]
            standalone = standalone_question(llm, item.question, item.history)
            messages, _, _ = engine.fit_prompt(standalone.question, pipeline.evidence(standalone.search))
            scores = {}
            for name, where, text in PROBES:
                *head, last = messages
                if where == "question":
                    probe = [*head, {"role": "user", "content": last["content"] + text}]
                else:
                    probe = [*messages, {"role": "assistant", "content": draft}, {"role": "user", "content": text}]
                p_yes = llm.yes_probability(probe)
                scores[name] = None if p_yes is None else (1 - p_yes if name in INVERTED else p_yes)
            rows.append({"id": item.id, "label": int(item.answerable and contains_answer(draft, item.answers)),
                         "answerable": item.answerable, "scores": scores})
            print(item.id, rows[-1]["label"], {k: round(v, 3) for k, v in scores.items()}, flush=True)
    labels = [r["label"] for r in rows]
    for name, _, _ in PROBES:
        values = [r["scores"][name] for r in rows]
        right = [v for v, y in zip(values, labels) if y]
        wrong = [v for v, y in zip(values, labels) if not y]
        print(f"{name:18s} AUC {auc(values, labels):.3f}  mean P(yes) right {sum(right) / len(right):.3f} "
              f"wrong {sum(wrong) / max(1, len(wrong)):.3f}  (n right {len(right)}, wrong {len(wrong)})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
