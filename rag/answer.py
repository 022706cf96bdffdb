"""The answer engine: question + history -> standalone question -> evidence -> short prompt -> streamed answer
-> citations -> verification -> answer or refusal. The CLI, the chat UI and the evals all call Engine.

Example: for event in engine.stream("Why was the February trip called off?"):
             print(event, end="") if isinstance(event, str) else print(event.record())
  -> "A Chinese weather balloon ... [1]." then {"answer": ..., "refused": false, "citations": [{"source": ...}], ...}
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from rag.cite import Citation, Claim, citations_for, grounding, render_answer, split_markers, verify
from rag.errors import BadInputError
from rag.evidence import Evidence
from rag.followup import standalone_question
from rag.prompts import answer_messages

REFUSAL = "The documents don't say. The closest passages found are listed below."
MAX_QUESTION_CHARS = 2000
EMPTY_QUESTION = "The question is empty; type a question about your documents"
# Refusal thresholds, calibrated on evals/qa.jsonl (docs/decisions.md):
# - evidence whose best sentence scores below MIN_EVIDENCE_SCORE is off-topic: refuse without asking the model;
# - an answer with less than MIN_GROUNDING of its sentences supported by the quotes is refused.
MIN_EVIDENCE_SCORE = 0.39
MIN_GROUNDING = 0.5
SAFETY_TOKENS = 16


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
    rewrite: str = ""  # why the question was or was not rewritten (rag.followup.Standalone.reason)

    def record(self) -> dict:
        """The JSON record printed by `ask --json` and written by the evals."""
        return {
            "answer": self.answer, "refused": self.refused, "citations": [c.public() for c in self.citations],
            "retrieved": list(dict.fromkeys(e.source for e in self.evidence)),
            "standalone_question": self.standalone_question, "rewrite": self.rewrite, "grounding": round(self.grounding, 3),
            "prompt_tokens": self.prompt_tokens,
            "ttft_s": None if self.ttft_s is None else round(self.ttft_s, 3), "total_s": round(self.total_s, 3),
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


class Engine:
    def __init__(self, pipeline, llm):
        self.pipeline = pipeline
        self.llm = llm
        self.settings = pipeline.settings

    def fit_prompt(self, question: str, evidence: list[Evidence]) -> tuple[list[dict], list[Evidence], int]:
        """The answer prompt with as much evidence as fits the context window, dropping the lowest-ranked first."""
        budget = self.llm.context_window - self.settings.max_tokens - SAFETY_TOKENS
        kept = list(evidence)
        while True:
            messages = answer_messages(question, [e.text for e in kept], small_model=self.llm.small_model)
            tokens = self.llm.count_tokens(messages)
            if tokens <= budget:
                return messages, kept, tokens
            if not kept:
                raise BadInputError(f"The question alone needs {tokens} tokens, more than the model's window allows; shorten it")
            kept.pop()

    def stream(self, question: str, history: list[dict] | None = None,
               evidence_k: int | None = None) -> Iterator[str | Answer]:
        """Yield answer text as it is generated, then the final Answer (which may withhold the text as a refusal)."""
        began = time.perf_counter()
        question = clean_question(question)
        standalone = standalone_question(self.llm, question, history or [])
        evidence = self.pipeline.evidence(standalone.search, k=evidence_k)
        result = Answer(REFUSAL, True, [], 0.0, standalone.question, evidence, rewrite=standalone.reason)
        if not evidence or evidence[0].score < MIN_EVIDENCE_SCORE:
            result.refusal_reason = "no relevant evidence"
            result.total_s = time.perf_counter() - began
            yield result
            return
        messages, kept, result.prompt_tokens = self.fit_prompt(standalone.question, evidence)
        result.dropped_evidence = len(evidence) - len(kept)
        result.evidence = kept
        pieces: list[str] = []
        for delta in self.llm.stream(messages, self.settings.max_tokens):
            if result.ttft_s is None:
                result.ttft_s = time.perf_counter() - began
            pieces.append(delta)
            yield delta
        self._judge(result, "".join(pieces))
        result.total_s = time.perf_counter() - began
        yield result

    def ask(self, question: str, history: list[dict] | None = None, evidence_k: int | None = None) -> Answer:
        """Run stream() to the end and return the final Answer."""
        *_, final = self.stream(question, history, evidence_k)
        return final

    def _judge(self, result: Answer, draft: str) -> None:
        """Cite and verify the draft; keep it as the answer only when the quotes support it."""
        result.draft = draft
        _, claims = split_markers(draft, len(result.evidence))
        if not claims:
            result.refusal_reason = "empty generation"
            return
        result.claims = verify(claims, result.evidence, self.pipeline.sentence_vectors, result.standalone_question)
        result.grounding = grounding(result.claims)
        if result.grounding < MIN_GROUNDING or not any(c.supported for c in result.claims):
            result.refusal_reason = f"only {sum(c.supported for c in result.claims)}/{len(result.claims)} sentences supported"
            return
        result.answer, result.refused = render_answer(result.claims), False
        result.citations = citations_for(result.claims, result.evidence)
