"""The answer engine: question + history -> standalone question -> evidence (shown at once) -> short prompt ->
streamed answer (stopped if it starts repeating) -> citations -> the judge -> answer or refusal.
The CLI, the chat UI and the evals all call Engine.

Example: for event in engine.stream("Why was the February trip called off?"):
             Found -> the passages, before the model writes; str -> answer text as it streams; Answer -> the result
  -> Found([Evidence(... "weather balloon" ...), ...]), "A Chinese weather balloon ... [1].",
     Answer(answer=..., refused=False, citations=[...], judge=Judgement(answers_question=0.93, ...))
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

from rag.answer.cite import Claim, citations_for, grounding, render_answer, split_markers, verify
from rag.answer.judge import Judgement, judge, load_weights
from rag.answer.result import REFUSAL, UNCONFIRMED, Answer, Found, clean_question
from rag.answer.state_judge import SOURCE as STATE_SOURCE
from rag.answer.state_judge import StateJudge, load_state_judge
from rag.answer.wellformed import contradicts, dangling, loop_start, says_not_answered, without_repeats
from rag.errors import BadInputError
from rag.generate.backend import Generation
from rag.generate.followup import standalone_question
from rag.generate.prompts import Passage, answer_check_messages, answer_messages, sufficiency_messages
from rag.search.evidence import Evidence
from rag.text import passage_input

# Evidence whose best unit scores below this is off-topic: refuse without asking the model (docs/decisions.md).
MIN_EVIDENCE_SCORE = 0.39
SAFETY_TOKENS = 16
PROBES = ("sufficiency", "answer_check")  # the judge's yes/no questions to the model (rag/generate/prompts.py)


class Engine:
    def __init__(self, pipeline, llm, weights: dict | None = None, probes: tuple[str, ...] | None = None,
                 state_judge: StateJudge | None = None):
        """state_judge: the probes on the model's states to decide with (default: the bundled ones for this model,
        where its states can be read)."""
        self.pipeline = pipeline
        self.llm = llm
        self.settings = pipeline.settings
        self.weights = weights if weights is not None else load_weights()
        # each probe costs its tokens after the answer: ask only those the judge uses (settings.judge_probes)
        used = {"all": set(PROBES), "none": set()}.get(self.settings.judge_probes,
                                                       set(self.weights["features"]) if self.weights else set())
        self.probes = probes if probes is not None else tuple(p for p in PROBES if p in used)
        # the probes on the model's own states decide where they can be read; the rules otherwise (the note says why)
        self.state_judge, self.state_note = (state_judge, "") if state_judge else load_state_judge(llm, self.settings.probes)
        if state_judge:
            llm.watch(state_judge.probes.layers)
        self.watched: tuple[int, ...] = self.state_judge.probes.layers if self.state_judge else ()

    def fit_prompt(self, question: str, evidence: list[Evidence]) -> tuple[list[dict], list[Evidence], int]:
        """The answer prompt with as many of the best passages as fit settings.evidence_tokens (and the context
        window): the best one always, then each next one while the passages' tokens stay within the budget."""
        window = self.llm.context_window - self.settings.max_tokens - SAFETY_TOKENS
        bare = self.llm.count_tokens(answer_messages(question, [], small_model=self.llm.small_model))
        if bare > window:
            raise BadInputError(f"The question alone needs {bare} tokens, more than the model's window allows; shorten it")
        kept: list[Evidence] = []
        best = (answer_messages(question, [], small_model=self.llm.small_model), [], bare)
        for item in evidence:
            trial = kept + [item]  # best first: a small model leans on the first passages
            messages = answer_messages(question, [Passage(e.header(), e.text) for e in trial], self.llm.small_model)
            tokens = self.llm.count_tokens(messages)
            if tokens > window or (kept and tokens - bare > self.settings.evidence_tokens):
                continue
            kept, best = kept + [item], (messages, trial, tokens)
        return best

    def watch(self, layers: tuple[int, ...]) -> None:
        """Keep the model's states at these layers in each Answer's generation (for training and measuring probes),
        beside those the probes read."""
        self.watched = tuple(sorted({*layers, *self.watched}))
        self.llm.watch(self.watched)

    def stream(self, question: str, history: list[dict] | None = None, evidence_k: int | None = None,
               evidence: list[Evidence] | None = None, max_tokens: int | None = None) -> Iterator[Found | str | Answer]:
        """Yield Found (the passages), then answer text as it is generated, then the final Answer (which may
        withhold the text as a refusal). evidence: answer from these passages instead of searching; max_tokens: at
        most this many (default settings.max_tokens; 0 reads the prompt, and the probe, without drafting)."""
        began = time.perf_counter()
        question = clean_question(question)
        standalone = standalone_question(self.llm, question, history or [])
        rewritten = time.perf_counter()
        if evidence is None:
            evidence = self.pipeline.evidence(standalone.search, k=evidence_k)
        result = Answer(REFUSAL, True, [], 0.0, standalone.question, evidence, rewrite=standalone.reason)
        result.rewrite_s, result.evidence_s = rewritten - began, time.perf_counter() - began
        unanswered = self._unanswered(evidence)
        if unanswered:
            yield Found(evidence, standalone.question)
            result.refusal_reason = unanswered
            result.total_s = time.perf_counter() - began
            yield result
            return
        messages, kept, result.prompt_tokens = self.fit_prompt(standalone.question, evidence)
        result.dropped_evidence = len(evidence) - len(kept)
        result.evidence = kept
        yield Found(kept, standalone.question)
        info, pieces, scores = Generation(capture=bool(self.watched)), [], {}
        limit = self.settings.max_tokens if max_tokens is None else max_tokens
        result.generation = info
        # the sufficiency probe reads the prompt's state before the first token is made
        gate = self.state_judge.gate(scores) if self.state_judge else None
        generation = self.llm.stream(messages, limit, info, gate)
        for delta in generation:
            if result.ttft_s is None:
                result.ttft_s = time.perf_counter() - began
            pieces.append(delta)
            yield delta
            if any(mark in delta for mark in ".!?\n") and (cut := loop_start("".join(pieces))) is not None:
                generation.close()  # the model started repeating itself: stop it there
                info.finish = "repeat"
                pieces = ["".join(pieces)[:cut]]
                break
        judged = time.perf_counter()
        result.generated_tokens = len(info.logprobs) or len(pieces)
        result.new_prompt_tokens = info.new_prompt_tokens
        if info.finish == "gated":
            self._refuse_unread(result, scores)
        else:
            self._judge(result, "".join(pieces).strip(), messages, info, scores)
        result.judge_s = time.perf_counter() - judged
        result.total_s = time.perf_counter() - began
        yield result

    def _unanswered(self, evidence: list[Evidence]) -> str | None:
        """Why no model call is worth making: nothing relevant found, or no passage the trained judge thinks answers
        the question (its threshold calibrated on the eval sets' dev split); None to go on."""
        if not evidence or max(e.score for e in evidence) < MIN_EVIDENCE_SCORE:
            return "no relevant evidence"
        judge = self.pipeline.judge
        best = max((e.answer_score for e in evidence if e.answer_score is not None), default=None)
        if judge is not None and best is not None and best < judge.threshold("answerable", 0.0):
            return f"no passage answers the question (judge {best:.2f} < {judge.threshold('answerable'):.2f})"
        return None

    def ask(self, question: str, history: list[dict] | None = None, evidence_k: int | None = None,
            evidence: list[Evidence] | None = None, max_tokens: int | None = None) -> Answer:
        """Run stream() to the end and return the final Answer."""
        *_, final = self.stream(question, history, evidence_k, evidence, max_tokens)
        return final

    def _claim_check(self, claims: list[Claim], evidence: list[Evidence]) -> list[Claim]:
        """Each sentence scored by the trained judge against the passages it cites (all of them when it cites none);
        one below the judge's "supported" threshold counts as unsupported, whatever the word rules said."""
        judge = self.pipeline.judge
        if judge is None or not claims:
            return claims
        asked = [(claim.sentence, [passage_input(e.header(), e.text)
                                   for e in ([evidence[n - 1] for n in claim.cited] or evidence)]) for claim in claims]
        return [replace(claim, supported=claim.supported and score >= judge.threshold("supported", 0.0),
                        judged=round(score, 4)) for claim, score in zip(claims, judge.best_support(asked))]

    def _refuse_unread(self, result: Answer, scores: dict) -> None:
        """The sufficiency probe found no answer in the passages: refused before a word was generated."""
        threshold = self.state_judge.probes.threshold("sufficiency")
        reason = (f"the model's own reading finds no answer in these passages (sufficiency {scores['sufficiency']:.2f} "
                  f"< {threshold:.2f})")
        result.refusal_reason = reason
        result.judge = Judgement(None, "refuse", [reason], [], {}, STATE_SOURCE,
                                 self.state_judge.public(scores, "sufficiency probe"))

    def _judge(self, result: Answer, draft: str, messages: list[dict], info: Generation, scores: dict) -> None:
        """Cite and verify the draft, then let the judge decide whether it is shown or withheld."""
        result.draft = draft
        _, pairs = split_markers(draft, len(result.evidence))
        sentences, dropped = without_repeats([s for s, _ in pairs])
        pairs = [next(p for p in pairs if p[0] == s) for s in sentences]
        flags = [f"dropped {dropped} repeated sentence{'s' * (dropped > 1)}"] if dropped else []
        if not draft:
            flags.append("empty generation")
        result.claims = verify(pairs, result.evidence, self.pipeline.sentence_vectors, result.standalone_question)
        loose = [c for c in result.claims if dangling(c.sentence)]
        if loose and len(loose) == len(result.claims):
            flags.append("a sentence stops where the answer should stand")
        result.claims = [Claim(c.sentence, c.cited, c.support, c.supported and c not in loose) for c in result.claims]
        result.claims = self._claim_check(result.claims, result.evidence)
        if contradicts([c.sentence for c in result.claims], result.standalone_question):
            flags.append("the answer takes back its own yes")
        if says_not_answered(draft):
            flags.append("the model says the passages don't give the answer")
        result.grounding = grounding(result.claims)
        signals = {"grounding": result.grounding, "evidence_score": result.evidence[0].score if result.evidence else 0.0,
                   "claims": float(len(result.claims)), "finish_repeat": float(info.finish == "repeat")}
        judged = [c.judged for c in result.claims if c.judged is not None]
        if judged:
            signals["claim_min"], signals["claim_mean"] = min(judged), sum(judged) / len(judged)
            signals["best_passage"] = max((e.answer_score or 0.0) for e in result.evidence)
        if info.logprobs:
            signals["mean_logprob"] = sum(info.logprobs) / len(info.logprobs)
            signals["min_logprob"] = min(info.logprobs)
        if result.claims and not [f for f in flags if not f.startswith("dropped")]:  # the model is asked only if needed
            # the answer check first: the draft it asks about is still in the KV cache from generating it
            if "answer_check" in self.probes:
                signals["answer_check"] = self.llm.yes_probability(answer_check_messages(messages, draft))
            if "sufficiency" in self.probes:
                signals["sufficiency"] = self.llm.yes_probability(sufficiency_messages(messages))
        source = self.llm.logits if any(signals.get(p) is not None for p in PROBES) else "rules only"
        result.judge = judge(signals, [c.supported for c in result.claims], flags, source, self.weights)
        if self.state_judge:
            self._state_verdict(result, info, scores)
        elif self.state_note:
            result.judge.probes = {"unavailable": self.state_note}
        if result.judge.decision == "refuse":
            result.refusal_reason = "; ".join(r for r in result.judge.reasons if not r.startswith("dropped"))
            if result.judge.probes.get("decided_by") == "correctness probe":
                result.answer = UNCONFIRMED
            return
        result.citations = citations_for(result.claims, result.evidence, result.standalone_question)
        # a sentence the trained judge finds unsupported is dropped; one only the word rules doubt is shown unmarked
        # (dropping those too cost an item of the docs set's dev split in the replay: docs/decisions.md)
        trained = self.pipeline.judge
        shown = [c for c in result.claims if c.judged is None or c.judged >= trained.threshold("supported", 0.0)]
        result.answer, result.refused = render_answer(shown), False

    def _state_verdict(self, result: Answer, info: Generation, scores: dict) -> None:
        """The ladder decides instead of the rules: a word rule the figures kept, then the correctness probe."""
        rules = result.judge
        verdict = self.state_judge.verdict(info, result.standalone_question, rules.reasons, scores)
        reasons = [r for r in rules.reasons if r.startswith("dropped")]  # notes, not refusals
        if verdict.rung == "correctness probe":
            reasons.append(f"the model's answer could not be confirmed ({verdict.why})")
        elif verdict.decision != "shown":
            reasons += [r for r in rules.reasons if not r.startswith("dropped")] or [verdict.why]
        result.judge = Judgement(rules.answers_question, "answer" if verdict.decision == "shown" else "refuse", reasons,
                                 rules.supported, rules.signals, STATE_SOURCE,
                                 self.state_judge.public(scores, verdict.rung), rules_decision=rules.decision)
