"""The answer judge: does the draft answer the standalone question from the evidence, or do the documents not say?

Example: judge(signals={"sufficiency": 0.91, "answer_check": 0.88, "mean_logprob": -0.12, ...}, claims, flags)
  -> Judgement(answers_question=0.93, decision="answer", reasons=[], source="in-process logits")
A draft is refused when a rule says it is not an answer (nothing supported, a sentence that stops where the answer
should stand, a "Yes" taken back, the model saying the passages don't say), or when the calibrated combination of
the signals (weights fitted with cross-validation by evals/fit_judge.py, stored in rag/answer/judge_weights.json) puts
the chance that it answers the question below the threshold stored with them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

WEIGHTS = Path(__file__).with_name("judge_weights.json")
MIN_GROUNDING = 0.5  # the rules-only judge (no logits, e.g. a server without logprobs): supported / claims


@dataclass
class Judgement:
    answers_question: float | None  # the calibrated chance the draft answers the question (None: rules only)
    decision: str  # "answer" or "refuse"
    reasons: list[str] = field(default_factory=list)  # why refused, and what was changed (repeats dropped)
    supported: list[bool] = field(default_factory=list)  # per claim, in order
    signals: dict = field(default_factory=dict)
    source: str = "rules only"  # what decided: "rules only", "in-process logits", "server logprobs", "hidden-state probes"
    probes: dict = field(default_factory=dict)  # the state probes' scores, thresholds and rung, or why there are none
    rules_decision: str | None = None  # what the word rules alone would have decided, when the probes decided

    def public(self) -> dict:
        rounded = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.signals.items()}
        return {"answers_question": None if self.answers_question is None else round(self.answers_question, 3),
                "decision": self.decision, "supported": self.supported, "reasons": self.reasons, "signals": rounded,
                "source": self.source, "probes": self.probes, "rules_decision": self.rules_decision}


@lru_cache(maxsize=4)
def load_weights(path: Path = WEIGHTS) -> dict | None:
    """The fitted combination: {"features": [...], "coef": [...], "intercept": b, "threshold": t, ...}, or None."""
    if not path.is_file():
        return None
    fitted = json.loads(path.read_text(encoding="utf-8"))
    return fitted if fitted.get("features") else None  # a fit that chose the rules stores no combination


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def features(signals: dict, names: list[str]) -> list[float] | None:
    """The model's inputs from the signals: probabilities as log-odds; None when one of them is missing."""
    values = []
    for name in names:
        value = signals.get(name)
        if value is None:
            return None
        values.append(_logit(value) if name in ("sufficiency", "answer_check") else float(value))
    return values


def combine(signals: dict, weights: dict | None) -> float | None:
    """sigmoid(intercept + coef . features), or None without weights or with a signal missing."""
    if not weights:
        return None
    values = features(signals, weights["features"])
    if values is None:
        return None
    z = weights["intercept"] + sum(c * v for c, v in zip(weights["coef"], values))
    return 1 / (1 + math.exp(-z))


def judge(signals: dict, supported: list[bool], flags: list[str], source: str,
          weights: dict | None = None) -> Judgement:
    """Decide answer or refusal. flags: rule failures found in the draft (each one refuses); signals: numbers such as
    sufficiency, answer_check, mean_logprob, min_logprob, grounding, evidence_score."""
    weights = weights if weights is not None else load_weights()
    reasons = list(flags)
    if not supported and not reasons:
        reasons.append("no answer sentence")
    elif not any(supported) and not reasons:
        reasons.append("no sentence is supported by the passages")
    score = combine(signals, weights)
    if score is None:
        source = "rules only"
        grounding = sum(supported) / len(supported) if supported else 0.0
        if supported and grounding < MIN_GROUNDING:
            reasons.append(f"only {sum(supported)}/{len(supported)} sentences supported")
    elif score < weights["threshold"]:
        reasons.append(f"judged unlikely to answer the question ({score:.2f} < {weights['threshold']:.2f})")
    refusing = [r for r in reasons if not r.startswith("dropped")]
    return Judgement(score, "refuse" if refusing else "answer", reasons, list(supported), dict(signals), source)
