"""The answer engine: question + history -> standalone question -> ranked passages -> the first look (shown at once)
-> the model reads it, and the sufficiency probe on its state says whether the passages hold the answer -> (when not:
the second look, the next-best passages added) -> streamed draft (stopped if it starts repeating) -> citations ->
the decision (rag/answer/decide.py) -> the answer, "not confirmed" with the passages, or "the documents don't say".
The CLI, the chat UI and the evals all call Engine.

Example: for event in engine.stream("Why was the February trip called off?"):
             Found -> the passages (again, with more, when the second look is read); str -> answer text as it
             streams; Answer -> the result
  -> Found([Evidence(... "weather balloon" ...), ...]), "A Chinese weather balloon ... [1].",
     Answer(answer=..., refused=False, citations=[...], decision=Decision(verdict="answered", ...))
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from rag.answer.cite import Claim, as_read, citations_for, grounding, render_answer, split_markers, verify
from rag.answer.decide import Decider, Verdict
from rag.answer.looks import Look, fit_looks
from rag.answer.result import REFUSAL, UNCONFIRMED, Answer, Decision, Found, clean_question
from rag.answer.wellformed import contradicts, dangling, loop_start, says_not_answered, without_repeats
from rag.generate.backend import Generation
from rag.generate.followup import standalone_question
from rag.search.evidence import Evidence
from rag.text import content_words

# Evidence whose best unit scores below this is off-topic: refuse without asking the model (docs/decisions.md).
MIN_EVIDENCE_SCORE = 0.39
SAFETY_TOKENS = 16
MIN_GROUNDING = 0.5  # the word rule "grounding": under half of the draft's sentences supported


@dataclass
class Checked:
    """A draft checked against the passages it was written from."""
    text: str
    claims: list[Claim]
    reasons: list[str]  # the word rules' findings (and notes: "dropped 1 repeated sentence")
    grounding: float
    copied: float  # share of the draft's key words (content words the question lacks) that its passages hold


class Engine:
    def __init__(self, pipeline, llm, decider: Decider | None = None):
        """decider: what decides (default: this model's decision file where its states can be read, else the rules)."""
        self.pipeline = pipeline
        self.llm = llm
        self.settings = pipeline.settings
        self.decider = decider or Decider.load(llm, self.settings.probes)
        if decider is not None and decider.reads_states:
            llm.watch(decider.layers)
        self.watched: tuple[int, ...] = self.decider.layers

    def watch(self, layers: tuple[int, ...]) -> None:
        """Keep the model's states at these layers too (for training and measuring the decision)."""
        self.watched = tuple(sorted({*layers, *self.watched}))
        self.llm.watch(self.watched)

    def looks(self, question: str, ranked: list[Evidence], second: bool | None = None,
              k: int | None = None) -> list[Look]:
        """The prompts the model may read: the first look, at most k passages (default settings.evidence_k) within
        settings.evidence_tokens and, when the decider can tell that it does not suffice (or second=True), a second
        adding as many within settings.second_look_tokens."""
        window = self.llm.context_window - self.settings.max_tokens - SAFETY_TOKENS
        second = self.decider.second_look_below is not None if second is None else second
        second = second and self.settings.second_look_tokens > 0  # RAG_SECOND_LOOK_TOKENS=0: never a second look
        budgets = (self.settings.evidence_tokens, self.settings.second_look_tokens)[:1 + bool(second)]
        return fit_looks(question, ranked, self.llm.count_tokens, budgets, window, self.llm.small_model,
                         k or self.settings.evidence_k)

    def stream(self, question: str, history: list[dict] | None = None, evidence_k: int | None = None,
               evidence: list[Evidence] | None = None, max_tokens: int | None = None) -> Iterator[Found | str | Answer]:
        """Yield Found (the passages), then answer text as it is generated, then the final Answer (which may withhold
        the text). evidence: answer from these passages instead of searching; max_tokens: at most this many
        (default settings.max_tokens; 0 reads the looks, and the probe, without drafting)."""
        began = time.perf_counter()
        question = clean_question(question)
        standalone = standalone_question(self.llm, question, history or [])
        rewritten = time.perf_counter()
        if evidence is None:
            evidence = self.pipeline.evidence(standalone.search, k=evidence_k)
        result = Answer(REFUSAL, True, [], 0.0, standalone.question, evidence[:self.settings.evidence_k],
                        rewrite=standalone.reason)
        result.rewrite_s, result.evidence_s = rewritten - began, time.perf_counter() - began
        result.evidence_order = self.pipeline.ranker_note or "trained ranker"
        if not evidence or max(e.score for e in evidence) < MIN_EVIDENCE_SCORE:
            yield Found(result.evidence, standalone.question)
            self._decide(result, Verdict("refused", "evidence", "no relevant evidence"), began)
            yield result
            return
        looks = self.looks(standalone.question, evidence, k=evidence_k)
        if looks:  # of the best passages, those the first look could not take (the budget or the context window)
            result.dropped_evidence = max(0, min(evidence_k or self.settings.evidence_k, len(evidence)) - looks[0].added)
        else:
            yield Found(result.evidence, standalone.question)
            self._decide(result, Verdict("refused", "evidence", "no passage fits the model's context window"), began)
            yield result
            return
        limit = self.settings.max_tokens if max_tokens is None else max_tokens
        readings: list[float | None] = []
        for n, look in enumerate(looks):
            result.evidence, result.prompt_tokens, result.looks = look.passages, look.tokens, n + 1
            yield Found(look.passages, standalone.question, look=n + 1)
            info = result.generation = Generation(capture=bool(self.watched))
            gate = self._timed(self.decider.gate(readings, n == len(looks) - 1), result.look_s)
            generation = self.llm.stream(look.messages, limit, info, gate)
            pieces = yield from self._draft(generation, info, result, began)
            if info.finish != "gated":
                break
        result.new_prompt_tokens = info.new_prompt_tokens
        result.generated_tokens = len(info.logprobs) or len(pieces)
        result.readings = readings
        judged = time.perf_counter()
        if info.finish == "gated":
            verdict = Verdict("refused", "sufficiency", f"the model's reading finds no answer in the passages "
                                                        f"(sufficiency {readings[-1]:.2f} < {self.decider.refuse_below:.2f})")
        elif limit == 0:
            verdict = Verdict("refused", "sufficiency", "read without drafting (max_tokens 0)")
        else:
            verdict = self._judge(result, "".join(pieces).strip(), info, readings)
        result.judge_s = time.perf_counter() - judged
        self._decide(result, verdict, began)
        yield result

    @staticmethod
    def _timed(gate, look_s: list[float]):
        """The gate, also noting how long the look's prompt took to read (its seconds appended to look_s)."""
        started = time.perf_counter()

        def read(info: Generation) -> bool:
            look_s.append(time.perf_counter() - started)
            return gate(info) if gate is not None else True
        return read

    def _draft(self, generation, info: Generation, result: Answer, began: float):
        """Stream the draft's pieces (stopping the model where it starts repeating itself); return them."""
        pieces: list[str] = []
        for delta in generation:
            if result.ttft_s is None:
                result.ttft_s = time.perf_counter() - began
            pieces.append(delta)
            yield delta
            if any(mark in delta for mark in ".!?\n") and (cut := loop_start("".join(pieces))) is not None:
                generation.close()
                info.finish = "repeat"
                return ["".join(pieces)[:cut]]
        return pieces

    def ask(self, question: str, history: list[dict] | None = None, evidence_k: int | None = None,
            evidence: list[Evidence] | None = None, max_tokens: int | None = None) -> Answer:
        """Run stream() to the end and return the final Answer."""
        *_, final = self.stream(question, history, evidence_k, evidence, max_tokens)
        return final

    def check(self, draft: str, passages: list[Evidence], question: str) -> Checked:
        """Cite and verify a draft against the passages its prompt numbered, and find what the word rules see."""
        _, pairs = split_markers(draft, len(passages))
        sentences, dropped = without_repeats([s for s, _ in pairs])
        pairs = [next(p for p in pairs if p[0] == s) for s in sentences]
        reasons = [f"dropped {dropped} repeated sentence{'s' * (dropped > 1)}"] if dropped else []
        claims = verify(pairs, passages, self.pipeline.sentence_vectors, question)
        loose = [c for c in claims if dangling(c.sentence)]
        claims = [Claim(c.sentence, c.cited, c.support, c.supported and c not in loose) for c in claims]
        supported = sum(c.supported for c in claims)
        if not draft:
            reasons.append("empty generation")
        elif not claims:
            reasons.append("no answer sentence")
        if loose and len(loose) == len(claims):
            reasons.append("a sentence stops where the answer should stand")
        if contradicts([c.sentence for c in claims], question):
            reasons.append("the answer takes back its own yes")
        if says_not_answered(draft):
            reasons.append("the model says the passages don't give the answer")
        if claims and not supported:
            reasons.append("no sentence is supported by the passages")
        elif claims and supported / len(claims) < MIN_GROUNDING:
            reasons.append(f"only {supported}/{len(claims)} sentences supported")
        keys = content_words(" ".join(c.sentence for c in claims)) - content_words(question)
        held = content_words(" ".join(as_read(e) for e in passages))
        return Checked(draft, claims, reasons, grounding(claims), len(keys & held) / len(keys) if keys else 0.0)

    def _judge(self, result: Answer, draft: str, info: Generation, readings: list) -> Verdict:
        """Check the draft, then let the decider say whether it is shown."""
        checked = self.check(draft, result.evidence, result.standalone_question)
        result.draft, result.claims, result.grounding = draft, checked.claims, checked.grounding
        result.notes = [r for r in checked.reasons if r.startswith("dropped")]
        result.signals = self.decider.signals(info, result.standalone_question, readings, checked.reasons,
                                              checked.grounding, checked.copied, result.evidence)
        verdict = self.decider.verdict(result.signals, checked.reasons)
        if verdict.decision == "answered":
            result.citations = citations_for(checked.claims, result.evidence, result.standalone_question)
            result.answer, result.refused = render_answer(checked.claims), False
        return verdict

    def _decide(self, result: Answer, verdict: Verdict, began: float) -> None:
        """Write the verdict into the answer: its text when not answered, and the one record of why."""
        if verdict.decision != "answered":
            result.answer, result.refused, result.citations = (REFUSAL if verdict.decision == "refused"
                                                               else UNCONFIRMED), True, []
            result.refusal_reason = verdict.why
        result.decision = Decision(verdict.decision, verdict.rung, verdict.why, result.looks, result.readings,
                                   result.signals, self.decider.public(), self.decider.fallback)
        result.total_s = time.perf_counter() - began
