"""What an answer is: the passages found first (Found), then the Answer, which holds the text and its citations or
the refusal and why; its record is what `ask --json`, the window and the evals read.

Example: clean_question("  Why was it called off?\x07 ") -> "Why was it called off?"
         Answer(REFUSAL, True, [], 0.0, "Why ...?", evidence, refusal_reason="no relevant evidence").record()
           -> {"answer": "The documents don't say. ...", "refused": true, "citations": [], ...}
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.answer.cite import Citation, Claim
from rag.errors import BadInputError
from rag.generate.backend import Generation
from rag.search.evidence import Evidence

REFUSAL = "The documents don't say. The closest passages found are listed below."
# the passages seem to hold the answer but the draft could not be confirmed from them
UNCONFIRMED = "Not confirmed: the model's answer could not be checked against the passages. Check the passages below."
MAX_QUESTION_CHARS = 2000
EMPTY_QUESTION = "The question is empty; type a question about your documents"


@dataclass(frozen=True)
class Found:
    """The passages the model reads, before it writes anything: the first look, then (when read) the second."""
    evidence: list[Evidence]
    standalone_question: str
    look: int = 1


@dataclass(frozen=True)
class Decision:
    """What the user was shown and why, in one record (rag/answer/decide.py)."""
    verdict: str  # "answered", "unconfirmed" or "refused"
    rung: str  # what decided: "evidence", "sufficiency", "rule", "confirmation" or "answered"
    why: str  # in words, "" when answered
    looks: int  # how many looks the model read (the second adds the next-best passages)
    readings: list  # the sufficiency probe's score on each look read (None without states)
    signals: dict  # what the confirmation read about the draft
    thresholds: dict  # the decision file's thresholds
    fallback: str = ""  # why the rules decided alone ("" when the decision file decided)

    def public(self) -> dict:
        rounded = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.signals.items()}
        return {"verdict": self.verdict, "rung": self.rung, "why": self.why, "looks": self.looks,
                "readings": [None if r is None else round(r, 4) for r in self.readings], "signals": rounded,
                "thresholds": self.thresholds, "fallback": self.fallback}


@dataclass
class Answer:
    answer: str
    refused: bool
    citations: list[Citation]
    grounding: float
    standalone_question: str
    evidence: list[Evidence]
    prompt_tokens: int = 0
    ttft_s: float | None = None
    total_s: float = 0.0
    claims: list[Claim] = field(default_factory=list)
    dropped_evidence: int = 0
    refusal_reason: str | None = None
    draft: str = ""  # what the model wrote, kept when the engine withholds it
    rewrite: str = ""  # why the question was or was not rewritten (rag.generate.followup.Standalone.reason)
    decision: Decision | None = None
    looks: int = 1  # how many looks the model read
    readings: list = field(default_factory=list)  # the sufficiency probe's score on each look
    signals: dict = field(default_factory=dict)  # what the decision read about the draft
    notes: list[str] = field(default_factory=list)  # what was changed in the draft ("dropped 1 repeated sentence")
    evidence_order: str = "trained ranker"  # what ordered the passages (or why the hand-set weights did)
    look_s: list[float] = field(default_factory=list)  # seconds each look's prompt took to read, before the gate
    rewrite_s: float = 0.0  # making a follow-up standalone (0 when it stands alone)
    evidence_s: float | None = None  # when the passages were found (the evidence panel can show them)
    judge_s: float = 0.0
    generated_tokens: int = 0
    new_prompt_tokens: int | None = None  # prompt tokens not already in the model's KV cache, where the backend tells
    generation: Generation | None = field(default=None, repr=False)  # the model's own report (states when watched)

    def record(self) -> dict:
        """The JSON record printed by `ask --json` and written by the evals."""
        return {
            "answer": self.answer, "refused": self.refused, "citations": [c.public() for c in self.citations],
            "retrieved": list(dict.fromkeys(e.source for e in self.evidence)),
            "standalone_question": self.standalone_question, "rewrite": self.rewrite, "grounding": round(self.grounding, 3),
            "decision": self.decision.public() if self.decision else None, "prompt_tokens": self.prompt_tokens,
            "rewrite_s": round(self.rewrite_s, 3), "evidence_s": None if self.evidence_s is None else round(self.evidence_s, 3),
            "ttft_s": None if self.ttft_s is None else round(self.ttft_s, 3), "judge_s": round(self.judge_s, 3),
            "total_s": round(self.total_s, 3), "generated_tokens": self.generated_tokens,
            "new_prompt_tokens": self.new_prompt_tokens, "evidence_order": self.evidence_order,
            "look_s": [round(s, 3) for s in self.look_s],
            "passages": [{"source": e.source, "start": e.start, "end": e.end, "score": e.score} for e in self.evidence],
            "claims": [{"sentence": c.sentence, "cited": list(c.cited), "supported": c.supported} for c in self.claims],
        }


def clean_question(question: str) -> str:
    """Strip control characters and surrounding space; refuse empty or oversized questions with a clear message."""
    if not isinstance(question, str):
        raise BadInputError("The question must be text")
    cleaned = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in question).strip()
    if not cleaned:
        raise BadInputError(EMPTY_QUESTION)
    if len(cleaned) > MAX_QUESTION_CHARS:
        raise BadInputError(f"The question is {len(cleaned):,} characters; keep it under {MAX_QUESTION_CHARS:,}")
    if not any(ch.isalnum() for ch in cleaned):
        raise BadInputError("The question has no words in it; type a question about your documents")
    return cleaned
