"""The unit ranker: which candidate units most likely hold the answer, from their features (rag/search/features.py).
A logistic regression trained here on questions over the training corpus (training/train_ranker.py), validated with
each corpus held out in turn; without its file the hand-set weights of meaning, shared words and chunk rank rank alone.

Example: ranker = Ranker.load()                         # rag/search/ranker.json
         ranker.order(features) -> array([0.91, 0.12, 0.55])   P(the unit, with its headings, holds the answer)
         relevance(features) -> array([0.71, 0.40, 0.52])   the hand-set score the evidence gate reads
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.errors import RagError
from rag.search.features import FEATURES

RANKER = Path(__file__).with_name("ranker.json")
# The hand-set score: meaning, shared rare words (names and numbers the small embedder blurs) and the chunk's fused
# rank, chosen by a sweep on the eval set (docs/decisions.md, "Evidence ranking weights"); the evidence gate reads it.
HAND = {"dense": 0.4, "lexical": 0.4, "chunk": 0.2}


class RankerUnavailable(RagError):
    """The ranker's file is missing or damaged: the hand-set score orders the units."""


def relevance(features: np.ndarray) -> np.ndarray:
    return sum(weight * features[:, FEATURES.index(name)] for name, weight in HAND.items())


@dataclass(frozen=True)
class Ranker:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    card: dict = field(default_factory=dict)

    def order(self, features: np.ndarray) -> np.ndarray:
        """P(holds the answer) for each row of unit_features()."""
        columns = features[:, [FEATURES.index(name) for name in self.features]]
        z = ((columns - self.mean) / self.scale) @ self.coef + self.intercept
        return 1 / (1 + np.exp(-np.clip(z, -50, 50)))

    def to_json(self) -> dict:
        return {"features": list(self.features), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept, "card": self.card}

    @classmethod
    def load(cls, path: Path = RANKER) -> Ranker:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            ranker = cls(tuple(data["features"]), np.asarray(data["mean"], dtype=np.float32),
                         np.asarray(data["scale"], dtype=np.float32), np.asarray(data["coef"], dtype=np.float32),
                         float(data["intercept"]), data.get("card", {}))
        except FileNotFoundError:
            raise RankerUnavailable(f"{path} is missing; restore it from git or train it (`python -m training.train_ranker "
                                    "--save`)") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise RankerUnavailable(f"{path} is not a ranker file ({type(exc).__name__}: {exc}); restore it from git") from None
        unknown = set(ranker.features) - set(FEATURES)
        sizes = {len(ranker.features), ranker.mean.size, ranker.scale.size, ranker.coef.size}
        if unknown or len(sizes) != 1:
            raise RankerUnavailable(f"{path}: features {sorted(unknown)} unknown or sizes differ ({sorted(sizes)}); "
                                    "restore it from git")
        return ranker
