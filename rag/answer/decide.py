"""The one decision: what the user sees of a question's answer, and one record that says why.

Example: decider = Decider.load(backend)          # rag/answer/decision/default.json, or the rules alone and why
         decider.gate(readings, last=False)        # handed to llm.stream: reads the look's sufficiency, False -> next look
         decider.verdict(signals, reasons) -> Verdict("unconfirmed", "confirmation", "the answer could not be
                                                      confirmed from the passages (0.21 < 0.40)")
The rungs, in order: nothing relevant found (no model call); the sufficiency probe, read on each look's prompt before a
word is written: below `second_look_below` the next look is read, and below `refuse_below` on the last look the
question is refused before drafting (only where that was >= 0.95 precise on corpora the file was not fitted on;
otherwise the file leaves it out); a word rule the file keeps (an empty draft or one with no answer sentence always
refuses); the confirmation, a logistic combination of the draft's signals (the correctness probe on its key words'
states, what it copies from the passages, ...) below `show_at_least`: "not confirmed", the passages shown instead;
else the answer. A backend whose states cannot be read (a model server), or a missing or altered file: the rules
decide alone, on the first look, and the record says why.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.answer.states import FEATURES, features
from rag.errors import RagError
from rag.generate.backend import Gate, Generation

DECISIONS = Path(__file__).with_name("decision")
# The word rules, by name, and the reason each writes (rag/answer/engine.py finds them in the draft)
RULES = {
    "empty": "empty generation",
    "no_sentence": "no answer sentence",
    "dangling": "a sentence stops where the answer should stand",
    "takes_back": "the answer takes back its own yes",
    "says_not": "the model says the passages don't give the answer",
    "unsupported": "no sentence is supported by the passages",
    "grounding": "sentences supported",  # "only 1/3 sentences supported"
}
ALWAYS = frozenset({"empty", "no_sentence"})  # nothing to show: these refuse whatever the probes say
REFUSING = ALWAYS | {"says_not", "unsupported"}  # a non-answer: "the documents don't say"; the others: "not confirmed"
NO_LOGPROB = -5.0  # a draft with no log-probabilities (none generated) reads as very unsure
RULES_ONLY = frozenset({"dangling", "takes_back", "says_not", "unsupported", "grounding"})  # without a decision file


def rule_hits(reasons: list[str]) -> set[str]:
    """The word rules a draft's reasons name: ["only 1/3 sentences supported"] -> {"grounding"}"""
    return {name for name, text in RULES.items() for reason in reasons if text in reason}


def draft_signals(reasons: list[str], grounding: float, copied: float, logprobs: list[float] | None,
                  sufficiency: float | None, correctness: float | None, looks: int, ranks: list, scores: list) -> dict:
    """What the confirmation reads about a draft: the probes' scores (probabilities; None without states), how much
    of it the passages support and hold, how sure the model was of its words (None where the backend does not say;
    very unsure where it wrote none), the word rules' findings, how many looks the model read, and what retrieval
    thought of the passages it read (the ranker's best P(holds the answer), the best relevance).
    training/train_decision.py fits on these same signals.

    Example: draft_signals([], 1.0, 0.8, [-0.1, -0.5], 0.9, 0.7, 1, [0.8, 0.3], [0.6, 0.5])
      -> {"sufficiency": 0.9, "correctness": 0.7, "grounding": 1.0, "copied": 0.8, "mean_logprob": -0.3,
          "min_logprob": -0.5, "says_not": 0.0, "unsupported": 0.0, "dangling": 0.0, "looks": 1.0,
          "best_rank": 0.8, "relevance": 0.6}"""
    hits = rule_hits(reasons)
    return {"sufficiency": sufficiency, "correctness": correctness, "grounding": grounding, "copied": copied,
            "mean_logprob": None if logprobs is None else sum(logprobs) / len(logprobs) if logprobs else NO_LOGPROB,
            "min_logprob": None if logprobs is None else min(logprobs) if logprobs else 2 * NO_LOGPROB,
            **{name: float(name in hits) for name in ("says_not", "unsupported", "dangling")}, "looks": float(looks),
            "best_rank": max((r for r in ranks if r is not None), default=0.0),
            "relevance": max((s for s in scores if s is not None), default=0.0)}


class DecisionUnavailable(RagError):
    """No decision file for this model here (missing, damaged, or another model file's): the rules decide."""


def logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-max(min(z, 50.0), -50.0)))


@dataclass(frozen=True)
class Probe:
    """sigmoid(direction . state + bias) on one feature of one layer's states (rag/answer/states.py)."""
    layer: int
    feature: str
    direction: np.ndarray
    bias: float

    def score(self, found: dict) -> float | None:
        state = found.get(self.feature, {}).get(self.layer)
        return None if state is None else sigmoid(float(np.dot(self.direction, state)) + self.bias)


@dataclass(frozen=True)
class Verdict:
    decision: str  # "answered", "unconfirmed" (the draft is not trusted; passages shown) or "refused"
    rung: str  # what decided: "evidence", "sufficiency", "rule", "confirmation" or "answered"
    why: str = ""


@dataclass(frozen=True)
class Decider:
    sufficiency: Probe | None = None
    second_look_below: float | None = None  # read the next look when a look's sufficiency is below this
    refuse_below: float | None = None  # on the last look, refuse before drafting below this (None: always draft)
    correctness: Probe | None = None
    combination: dict | None = None  # {"features": [...], "mean", "scale", "coef", "intercept"} over signals()
    show_at_least: float | None = None  # the combination's threshold
    rules: frozenset = RULES_ONLY
    card: dict = field(default_factory=dict)
    fallback: str = ""  # why the rules decide alone ("" when the file decides)

    @property
    def layers(self) -> tuple[int, ...]:
        return tuple(sorted({p.layer for p in (self.sufficiency, self.correctness) if p}))

    @property
    def reads_states(self) -> bool:
        return bool(self.layers)

    def read(self, info: Generation) -> float | None:
        """The sufficiency probe on a look's prompt (None without states)."""
        if self.sufficiency is None or info.states is None:
            return None
        return self.sufficiency.score({"prompt_end": dict(zip(info.layers, np.asarray(info.states, np.float32)))})

    def gate(self, readings: list[float | None], last: bool) -> Gate | None:
        """Asked once a look's prompt is read: True drafts from it, False reads the next look (or, on the last,
        refuses). Each reading is appended to readings."""
        if self.sufficiency is None:
            return None

        def passes(info: Generation) -> bool:
            readings.append(score := self.read(info))
            below = self.refuse_below if last else self.second_look_below
            return score is None or below is None or score >= below
        return passes

    def signals(self, generation: Generation | None, question: str, readings: list, reasons: list[str],
                grounding: float, copied: float, passages: list) -> dict:
        """What the confirmation reads about a finished draft (draft_signals, with this file's correctness probe)."""
        found = features(generation, question) if generation is not None and generation.states is not None else {}
        correct = self.correctness.score(found) if self.correctness and found else None
        logprobs = generation.logprobs if generation is not None else []
        if not logprobs and "empty generation" not in reasons:
            logprobs = None  # words were drafted, but the backend reports no log-probabilities (a model server)
        return draft_signals(reasons, grounding, copied, logprobs,
                             readings[-1] if readings else None, correct, len(readings) or 1,
                             [e.rank for e in passages], [e.score for e in passages])

    def confidence(self, signals: dict) -> float | None:
        """The combination's P(the draft is right), None without one or with a signal missing."""
        if not self.combination:
            return None
        values = []
        for name in self.combination["features"]:
            value = signals.get(name)
            if value is None:
                return None
            values.append(logit(value) if name in ("sufficiency", "correctness") else float(value))
        z = np.dot((np.asarray(values) - self.combination["mean"]) / self.combination["scale"], self.combination["coef"])
        return sigmoid(float(z) + self.combination["intercept"])

    def verdict(self, signals: dict, reasons: list[str]) -> Verdict:
        """The decision on a finished draft: a rule the file keeps, then the confirmation (its confidence is written
        into signals). A draft the confirmation does not trust is "refused" when it says or shows it has no answer
        (the model said so, or no sentence is supported), else "unconfirmed"."""
        hits = sorted(rule_hits(reasons) & (self.rules | ALWAYS))
        if hits:
            return Verdict("refused" if set(hits) & REFUSING else "unconfirmed", "rule",
                           "; ".join(r for r in reasons if any(RULES[h] in r for h in hits)))
        confidence = signals["confidence"] = self.confidence(signals)
        if confidence is not None and self.show_at_least is not None and confidence < self.show_at_least:
            refused = rule_hits(reasons) & REFUSING
            return Verdict("refused" if refused else "unconfirmed", "confirmation",
                           f"the answer could not be confirmed from the passages ({confidence:.2f} < "
                           f"{self.show_at_least:.2f})" + (f"; {'; '.join(RULES[r] for r in sorted(refused))}"
                                                          if refused else ""))
        return Verdict("answered", "answered")

    def public(self) -> dict:
        """The thresholds the record shows beside the scores."""
        return {"second_look_below": self.second_look_below, "refuse_below": self.refuse_below,
                "show_at_least": self.show_at_least, "rules": sorted(self.rules)}

    @classmethod
    def rules_only(cls, why: str) -> Decider:
        return cls(fallback=why)

    @classmethod
    def load(cls, llm, enabled: bool = True, folder: Path = DECISIONS) -> Decider:
        """The decision file for this backend's model, or the rules alone and why."""
        if not enabled:
            return cls.rules_only("switched off (RAG_PROBES=false)")
        if llm.states_unavailable:
            return cls.rules_only(f"the model's states cannot be read: {llm.states_unavailable}")
        try:
            decider = cls.from_file(folder / f"{llm.name}.json", llm.model_sha256)
        except DecisionUnavailable as exc:
            return cls.rules_only(str(exc))
        if decider.reads_states:
            llm.watch(decider.layers)
        return decider

    @classmethod
    def from_file(cls, path: Path, model_sha256: str | None) -> Decider:
        if not path.is_file():
            raise DecisionUnavailable(f"{path} is missing; restore it from git or fit it (`python -m "
                                      "training.train_decision --save`)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not data.get("probes"):
                raise DecisionUnavailable(f"{path} has no probes: {data.get('none', 'none were fitted for this model')}")
            if data.get("model_sha256") != model_sha256:
                raise DecisionUnavailable(f"{path} belongs to the model file {str(data.get('model_sha256'))[:12]}..., "
                                          f"not this one ({str(model_sha256)[:12]}...)")
            probes = {name: _probe(entry, data["width"]) for name, entry in data["probes"].items()}
            combination = data.get("combination")
            if combination:
                combination = {**combination, **{k: np.asarray(combination[k], dtype=np.float64)
                                                 for k in ("mean", "scale", "coef")}}
            unknown = set(data.get("rules", [])) - set(RULES)
            if unknown:
                raise ValueError(f"unknown word rules {sorted(unknown)}")
            return cls(probes.get("sufficiency"), data.get("second_look_below"), data.get("refuse_below"),
                       probes.get("correctness"), combination, data.get("show_at_least"),
                       frozenset(data.get("rules", [])), data.get("card", {}))
        except (ValueError, KeyError, TypeError) as exc:
            raise DecisionUnavailable(f"{path} is not a decision file ({type(exc).__name__}: {exc}); restore it from "
                                      "git") from None


def _probe(entry: dict, width: int) -> Probe:
    direction = np.asarray(entry["direction"], dtype=np.float32)
    if entry["feature"] not in FEATURES or direction.shape != (width,):
        raise ValueError(f"a probe with feature {entry['feature']!r} and {direction.size} weights; expected one of "
                         f"{FEATURES} and {width}")
    return Probe(int(entry["layer"]), entry["feature"], direction, float(entry["bias"]))
