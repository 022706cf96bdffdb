"""Probes on the generator's own hidden states: a direction and a bias per question, read off the residual stream of
one layer (rag/generate/capture.py), trained here (training/train_probes.py) for one model file.

Example: probes = Probes.load("default", backend.model_sha256)     # rag/answer/probes/default.json
         probes.score("sufficiency", features(info, question, draft)) -> 0.93   (do the passages hold the answer?)
         probes.score("correctness", features(info, question, draft)) -> 0.12   (is this draft right?)
         probes.threshold("sufficiency") -> 0.31   (chosen on the eval sets' dev split)
A probe reads one feature of the states (FEATURES) at one layer: the prompt's last token (the open assistant turn,
before any answer is written), or the draft's tokens (its last one, their mean, or the mean over its key words).
score = sigmoid(direction . state + bias). The file names the model file's sha256: another file (a requantized
copy, another model) gets no probe, and the engine says so and decides by its rules.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.answer.ladder import RULES, Ladder
from rag.errors import RagError
from rag.text import content_words

PROBES_DIR = Path(__file__).with_name("probes")
FEATURES = ("prompt_end", "draft_last", "draft_mean", "draft_keys")
_MARKER = re.compile(r"\[[^\]]*\]")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class ProbesUnavailable(RagError):
    """No probe for this model here (a missing or altered file, another model file): the rules decide."""


def key_token_positions(tokens: list[str], question: str) -> list[int]:
    """The generated tokens that spell the draft's key words: its content words the question does not have (names,
    numbers, terms), outside citation markers.
    Example: (["The", " port", " is", " 655", " [", "1", "]."], "Which port?") -> [3]"""
    text, starts = "", []
    for token in tokens:
        starts.append(len(text))
        text += token
    asked = content_words(question)
    hidden = {i for m in _MARKER.finditer(text) for i in range(m.start(), m.end())}
    keys: set[int] = set()
    for word in _WORD.finditer(text):
        if word.start() in hidden or not (content_words(word.group()) - asked):
            continue
        keys.update(range(word.start(), word.end()))
    return [n for n, (start, token) in enumerate(zip(starts, tokens))
            if any(start <= c < start + len(token) for c in keys)]


def features(generation, question: str) -> dict[str, dict[int, np.ndarray]]:
    """feature -> layer -> state, from a Generation made with capture=True: the prompt's last token, then over the
    draft's tokens (absent when nothing was generated)."""
    layers = generation.layers
    stacks = {"prompt_end": np.asarray(generation.states, dtype=np.float32)}
    if generation.token_states:
        stacked = np.stack([np.asarray(s, dtype=np.float32) for s in generation.token_states])
        keys = [n for n in key_token_positions(generation.tokens, question) if n < len(stacked)]
        stacks |= {"draft_last": stacked[-1], "draft_mean": stacked.mean(axis=0),
                   "draft_keys": stacked[keys].mean(axis=0) if keys else stacked.mean(axis=0)}
    return {name: dict(zip(layers, rows)) for name, rows in stacks.items()}


@dataclass(frozen=True)
class Probe:
    name: str
    layer: int
    feature: str
    direction: np.ndarray
    bias: float
    threshold: float

    def score(self, found: dict[str, dict[int, np.ndarray]]) -> float | None:
        """sigmoid(direction . state + bias) on features(); None when its feature is absent (no draft yet)."""
        state = found.get(self.feature, {}).get(self.layer)
        if state is None:
            return None
        z = float(np.dot(self.direction, state)) + self.bias
        return 1 / (1 + math.exp(-max(min(z, 50.0), -50.0)))


@dataclass
class Probes:
    model: str
    model_sha256: str
    probes: dict[str, Probe]
    rules: frozenset = frozenset(RULES)  # the word rules that still refuse beside the probes (chosen on dev)
    card: dict = field(default_factory=dict)

    @property
    def ladder(self) -> Ladder:
        return Ladder(self.threshold("sufficiency") if self.has("sufficiency") else None,
                      self.threshold("correctness") if self.has("correctness") else None, self.rules)

    @property
    def layers(self) -> tuple[int, ...]:
        return tuple(sorted({p.layer for p in self.probes.values()}))

    def has(self, name: str) -> bool:
        return name in self.probes

    def threshold(self, name: str) -> float:
        return self.probes[name].threshold

    def score(self, name: str, found: dict[str, dict[int, np.ndarray]]) -> float | None:
        return self.probes[name].score(found)

    @classmethod
    def load(cls, model: str, model_sha256: str | None, folder: Path = PROBES_DIR) -> Probes:
        """The probes trained for this model file; ProbesUnavailable says why there are none."""
        path = folder / f"{model}.json"
        if not path.is_file():
            raise ProbesUnavailable(f"no probes for model {model} ({path} is missing); restore it from git or train "
                                    "them (`python -m training.train_probes`)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            shipped = data["probes"]
        except (ValueError, KeyError) as exc:
            raise ProbesUnavailable(f"{path} is not a probe file ({type(exc).__name__}: {exc}); restore it from git") from None
        if not shipped:
            raise ProbesUnavailable(f"model {model} has no probes: {data.get('none', 'none were trained for it')}")
        if model_sha256 != data.get("model_sha256"):
            raise ProbesUnavailable(f"the probes in {path} belong to the model file with sha256 "
                                    f"{str(data.get('model_sha256'))[:12]}..., not this one ({str(model_sha256)[:12]}...)")
        probes = {}
        for name, entry in shipped.items():
            direction = np.asarray(entry["direction"], dtype=np.float32)
            if entry["feature"] not in FEATURES or direction.shape != (data["width"],):
                raise ProbesUnavailable(f"{path}: probe {name} has feature {entry['feature']!r} and {direction.size} "
                                        f"weights; expected one of {FEATURES} and {data['width']}")
            probes[name] = Probe(name, int(entry["layer"]), entry["feature"], direction, float(entry["bias"]),
                                 float(entry["threshold"]))
        unknown = set(data.get("rules", [])) - set(RULES)
        if unknown:
            raise ProbesUnavailable(f"{path}: unknown word rules {sorted(unknown)}; expected some of {sorted(RULES)}")
        return cls(model, data["model_sha256"], probes, frozenset(data.get("rules", RULES)), data.get("card", {}))
