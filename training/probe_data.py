"""Recorded prompts and their states (training.probe_states) as arrays for fitting and measuring probes.

Example: sets = load_sets(OUT, "default")          # {"training": PromptSet, "docs": PromptSet, "seeds": PromptSet}
         s = sets["docs"].where(split="dev", variant="engine")
         s.X("prompt_end", 17) -> (n, 1536) float32;  s.y("sufficient") -> (n,) 0/1;  s.records[0]["id"] -> "d001"
Records without states (refused for want of relevant evidence before the model was asked) are kept, with no row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.probe_fit import fit
from training.probe_states import OUT, load_states

SETS = ("training", "docs", "seeds")


@dataclass
class PromptSet:
    name: str
    records: list[dict]
    states: list[dict | None]  # features() per record, None when the model was never asked

    def where(self, test=None, stated: bool = True, **wanted) -> PromptSet:
        """The records whose fields equal the given values and that pass test(record); stated: only those with
        states (the model was asked)."""
        keep = [n for n, r in enumerate(self.records) if (self.states[n] is not None or not stated)
                and (test is None or test(r)) and all(r.get(k) == v for k, v in wanted.items())]
        return PromptSet(self.name, [self.records[n] for n in keep], [self.states[n] for n in keep])

    def __len__(self) -> int:
        return len(self.records)

    def X(self, feature: str, layer: int) -> np.ndarray:
        return np.stack([s[feature][layer] for s in self.states]) if self.records else np.zeros((0, 0))

    def y(self, field: str) -> np.ndarray:
        return np.array([int(bool(r[field])) for r in self.records])

    def values(self, field: str) -> np.ndarray:
        return np.array([float(r.get(field) or 0.0) for r in self.records])

    def groups(self) -> list[str]:
        """The question each prompt asks: the variants of one question go to one fold."""
        return [r["id"].split("/")[0] for r in self.records]

    def __add__(self, other: PromptSet) -> PromptSet:
        return PromptSet(f"{self.name}+{other.name}", self.records + other.records, self.states + other.states)


def fit_sets(parts: list[PromptSet], label: str, feature: str, layer: int) -> tuple[np.ndarray, float]:
    """A probe (direction, bias) fitted on the prompts of these sets together (the empty ones left out)."""
    parts = [p for p in parts if len(p)]
    return fit(np.vstack([p.X(feature, layer) for p in parts]), np.concatenate([p.y(label) for p in parts]))


def load_set(folder: Path, name: str) -> PromptSet:
    records, states = [], []
    path = folder / "records.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        record["corpus"] = name
        records.append(record)
        states.append(load_states(folder / "states" / record["states"]) if record.get("states") else None)
    return PromptSet(name, records, states)


def load_sets(model: str, out: Path = OUT) -> dict[str, PromptSet]:
    return {name: load_set(out / f"{name}-{model}", name) for name in SETS}
