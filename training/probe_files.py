"""The probe file the engine loads (rag/answer/probes/<model>.json): each probe fitted on the training corpus's
prompts and all of the eval sets' dev split, with its layer, feature and threshold, the word rules kept, the model
file's sha256 and a card saying what it was trained on and how it measured.

Example: write_probe_file("default", split, drafts, (17, 0.31), ("prompt_end", 17, 0.22), frozenset({"empty"}), report)
  -> rag/answer/probes/default.json (about 70 KB: two directions of 1,536 weights)
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from rag.answer.probes import PROBES_DIR
from rag.generate.models import GGUF_MODELS
from training.probe_data import fit_sets
from training.probe_fit import COMPONENTS, C


def _entry(direction: np.ndarray, bias: float, layer: int, feature: str, threshold: float, label: str) -> dict:
    return {"layer": int(layer), "feature": feature, "threshold": round(float(threshold), 4), "bias": round(bias, 6),
            "label": label, "direction": [round(float(w), 7) for w in direction]}


def data_counts(split) -> dict:
    parts = {"training corpus (train packages)": split.train, "eval sets' dev split": split.dev}
    return {name: dict(Counter(f"{r.get('kind')}/{r['variant']}: {'1' if r['sufficient'] else '0'}"
                               for r in part.records)) for name, part in parts.items()}


def write_probe_file(model: str, split, drafts, sufficiency: tuple[int, float], correctness: tuple[str, int, float | None],
                     rules: frozenset, report: list[str], folder: Path = PROBES_DIR) -> Path:
    layer, t_s = sufficiency
    feature, corr_layer, t_c = correctness
    probes = {"sufficiency": _entry(*fit_sets([split.train, split.dev], "sufficient", "prompt_end", layer), layer,
                                    "prompt_end", t_s, "the passages hold the answer")}
    if t_c is not None:
        probes["correctness"] = _entry(*fit_sets([drafts.train, drafts.dev], "correct", feature, corr_layer), corr_layer,
                                       feature, t_c, "the draft is right")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    data = {"model": model, "model_sha256": GGUF_MODELS[model].sha256, "gguf": GGUF_MODELS[model].filename,
            "width": len(probes["sufficiency"]["direction"]), "rules": sorted(rules), "probes": probes,
            "card": {"trained": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit,
                     "command": f"python -m training.train_probes --model {model} --save",
                     "fit": f"standardise, PCA to {COMPONENTS} components, logistic regression C={C}, folded into one "
                            "direction over the raw state (training/probe_fit.py)",
                     "data": data_counts(split),
                     "thresholds": "chosen on the eval sets' dev split, out-of-fold (training/train_probes.py)",
                     "figures": "training/data/PROBES.md"}}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{model}.json"
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path
