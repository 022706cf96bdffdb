"""The decision ladder: what the engine does with a draft once the probes on the model's states have scored it.

Example: decide({"sufficiency": 0.9, "correctness": 0.2, "reasons": []}, Ladder(0.3, 0.4))
  -> Verdict("withheld", "correctness probe", "correctness 0.20 < 0.40")
         decide({"sufficiency": 0.1, ...}, Ladder(0.3, 0.4)) -> Verdict("refused", "sufficiency probe", "sufficiency
         0.10 < 0.30")
The rungs, in order: no relevant evidence (no model call), sufficiency below its threshold (refused before
generating), a word rule the figures kept (rag/answer/probes/<model>.json names them), then correctness below its
threshold (withheld); else the draft is shown. The engine takes these decisions as it answers; evals/ladder.py
replays them on recorded drafts to choose the thresholds and the rules on the dev split.
"""

from __future__ import annotations

from dataclasses import dataclass

# The word rules' reasons (rag/answer/engine.py, rag/answer/judge.py), by name: a ladder keeps some of them
RULES = {
    "empty": "empty generation",
    "dangling": "a sentence stops where the answer should stand",
    "takes_back": "the answer takes back its own yes",
    "says_not": "the model says the passages don't give the answer",
    "no_sentence": "no answer sentence",
    "unsupported": "no sentence is supported by the passages",
    "grounding": "sentences supported",  # "only 1/3 sentences supported"
}


# rules that find nothing to show rather than judge it: they refuse whatever the probes say (an empty draft has no
# tokens for the correctness probe to read)
ALWAYS = frozenset({"empty", "no_sentence"})


@dataclass(frozen=True)
class Ladder:
    sufficiency: float | None = None  # refuse before generating below this (None: no such rung)
    correctness: float | None = None  # withhold the draft below this
    rules: frozenset = frozenset(RULES)  # the word rules that still refuse

    def describe(self) -> str:
        kept = ",".join(sorted(self.rules)) if self.rules != frozenset(RULES) else "all"
        return f"sufficiency {self.sufficiency}, correctness {self.correctness}, rules {kept or 'none'}"


def rule_hits(reasons: list[str]) -> set[str]:
    return {name for name, text in RULES.items() for reason in reasons if text in reason}


@dataclass(frozen=True)
class Verdict:
    decision: str  # "shown", "refused" (no answer is in the passages) or "withheld" (the draft is not trusted)
    rung: str  # what decided: "evidence", "sufficiency probe", "rule", "correctness probe" or "answered"
    why: str = ""


def decide(record: dict, ladder: Ladder) -> Verdict:
    """The verdict on one answer (or recorded item) under the ladder; record holds "sufficiency", "correctness" (the
    probes' scores, absent or None when not measured), "reasons" (the word rules' findings) and "pre_refused"."""
    if record.get("pre_refused"):
        return Verdict("refused", "evidence", "no relevant evidence")
    if ladder.sufficiency is not None and record.get("sufficiency") is not None \
            and record["sufficiency"] < ladder.sufficiency:
        return Verdict("refused", "sufficiency probe", f"sufficiency {record['sufficiency']:.2f} < {ladder.sufficiency:.2f}")
    hits = rule_hits(record.get("reasons", [])) & (ladder.rules | ALWAYS)
    if hits:
        return Verdict("withheld", "rule", ", ".join(sorted(hits)))
    if ladder.correctness is not None and record.get("correctness") is not None \
            and record["correctness"] < ladder.correctness:
        return Verdict("withheld", "correctness probe",
                       f"correctness {record['correctness']:.2f} < {ladder.correctness:.2f}")
    return Verdict("shown", "answered")
