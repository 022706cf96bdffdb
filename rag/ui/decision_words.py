"""The decision in words, for the window and the command line: the verdict ("Answered from 2 passages", "Not
confirmed: check the passages below", "The documents don't say") and, one click away, how it was decided with its
numbers (rag/answer/decide.py writes the Decision this reads).

Example: verdict_badge(answer) -> '<span class="badge ok">Answered from 2 passages</span>'
         decision_details(answer) -> '<details class="decision"><summary>How this was decided</summary><ul>
                                      <li>What decided: the checks passed</li>...</ul></details>'
         decision_line(answer) -> "decision: answered from 2 passages (the first and the next-best passages read)"
Every piece of text passes through html.escape here, like the rest of rag/ui/render.py.
"""

from __future__ import annotations

import re
from html import escape

from rag.answer.result import UNCONFIRMED, Answer, Decision

RUNG_WORDS = {
    "evidence": "the search: nothing relevant was found",
    "sufficiency": "the model's reading of the passages (sufficiency probe)",
    "rule": "a check on the wording of the draft",
    "confirmation": "the confirmation check",
    "answered": "the checks passed",
}
# the confirmation's signals a person can read (sufficiency and looks have lines of their own)
SIGNAL_WORDS = {"correctness": "correctness probe", "copied": "key words found in the passages",
                "grounding": "sentences supported", "mean_logprob": "mean log-probability of the draft's words",
                "min_logprob": "lowest log-probability of a word in the draft",
                "best_rank": "the ranker's best passage", "relevance": "the best passage's relevance"}
LOOKS_WORDS = {1: "read the first passages", 2: "read the first passages, then the next-best ones"}
_NUMBERS = re.compile(r"\s*\([^()]*\d[^()]*\)$")  # "... (0.21 < 0.40)" at the end of a why


def verdict_of(answer: Answer) -> str:
    """"answered", "unconfirmed" or "refused" (read from the answer's text where it carries no decision)."""
    if answer.decision is not None:
        return answer.decision.verdict
    if not answer.refused:
        return "answered"
    return "unconfirmed" if answer.answer == UNCONFIRMED else "refused"


def verdict_words(answer: Answer) -> str:
    verdict = verdict_of(answer)
    if verdict == "refused":
        return "The documents don't say"
    if verdict == "unconfirmed":
        return "Not confirmed: check the passages below"
    cited = len({citation.number for citation in answer.citations})
    return f"Answered from {cited} passage{'s' * (cited != 1)}" if cited else "Answered, with no passage cited"


def plain_why(answer: Answer) -> str:
    """Why the answer was not shown, without the numbers (those are in the details)."""
    why = answer.decision.why if answer.decision else answer.refusal_reason or ""
    return _NUMBERS.sub("", why)


def verdict_badge(answer: Answer) -> str:
    verdict = verdict_of(answer)
    if verdict != "answered":
        return f'<span class="badge {verdict}">{escape(verdict_words(answer))}</span>'
    unsupported = sum(not claim.supported for claim in answer.claims)
    if unsupported or not answer.claims:
        title = f"{unsupported} of {len(answer.claims)} sentences not supported by a quote (underlined)"
        return f'<span class="badge partial" title="{escape(title)}">{escape(verdict_words(answer))}</span>'
    return f'<span class="badge ok">{escape(verdict_words(answer))}</span>'


def _against(score: float, threshold: float | None, what: str) -> str:
    """A reading against the threshold it was compared with: "0.21, below 0.30: the next-best passages were added"."""
    if threshold is None:
        return f"{score:.2f}"
    below = score < threshold
    if what == "second_look_below":
        then = "the next-best passages were added" if below else "the first passages were enough to write from"
    else:
        then = "refused before writing" if below else "the model wrote a draft"
    return f"{score:.2f}, {'below' if below else 'at least'} {threshold:.2f}: {then}"


def reading_lines(decision: Decision) -> list[str]:
    """The sufficiency probe's reading of each look, against second_look_below (a look with another after it) or
    refuse_below (the last look)."""
    second, refuse = decision.thresholds.get("second_look_below"), decision.thresholds.get("refuse_below")
    lines = []
    for n, score in enumerate(decision.readings):
        look = "first look" if n == 0 else "second look"
        if score is None:
            lines.append(f"Sufficiency probe, {look}: not read (the model's states were not available)")
            continue
        last, refused_here = n == len(decision.readings) - 1, decision.rung == "sufficiency"
        if not last or (len(decision.readings) == 1 and second is not None and score >= second and not refused_here):
            lines.append(f"Sufficiency probe, {look}: {_against(score, second, 'second_look_below')}")
        else:
            lines.append(f"Sufficiency probe, {look}: {_against(score, refuse, 'refuse_below')}")
    return lines


def signals_line(decision: Decision) -> str:
    shown = [f"{SIGNAL_WORDS[name]} {decision.signals[name]:.2f}" for name in SIGNAL_WORDS
             if isinstance(decision.signals.get(name), (int, float))]
    if not shown:
        return ""
    bar, confidence = decision.thresholds.get("show_at_least"), decision.signals.get("confidence")
    if confidence is not None and bar is not None:
        return (f"Confirmation {confidence:.2f}, {'at least' if confidence >= bar else 'below'} {bar:.2f} (the answer "
                f"is shown at {bar:.2f} or above), from: {' · '.join(shown)}")
    combined = f" (the answer is shown when their combination reaches {bar:.2f})" if bar is not None else ""
    return f"Confirmation signals: {' · '.join(shown)}{combined}"


def decision_lines(decision: Decision) -> list[str]:
    """How the decision was reached, in words with its numbers, one line each."""
    if decision.rung == "evidence":
        what = RUNG_WORDS["evidence"] if decision.why == "no relevant evidence" else f"the search: {decision.why}"
        lines = [f"What decided: {what}", "The model was not asked"]
    else:
        lines = [f"What decided: {RUNG_WORDS.get(decision.rung, decision.rung)}"]
        lines += [f"Why: {decision.why}"] * bool(decision.why)
        lines.append(f"Looks: {LOOKS_WORDS.get(decision.looks, f'{decision.looks} looks')}")
        lines += reading_lines(decision)
        lines += [line for line in (signals_line(decision),) if line]
    if decision.fallback:
        lines.append(f"Decided by the word rules alone: {decision.fallback}")
    return lines


def decision_details(answer: Answer) -> str:
    """The details behind the badge, folded away: empty when the answer carries no decision."""
    if answer.decision is None:
        return ""
    rows = "".join(f"<li>{escape(line)}</li>" for line in decision_lines(answer.decision))
    return f'<details class="decision"><summary>How this was decided</summary><ul>{rows}</ul></details>'


def decision_line(answer: Answer) -> str:
    """The command line's one line: "decision: not confirmed (<why>)"."""
    words = verdict_words(answer)
    words = {"refused": "the documents don't say", "unconfirmed": "not confirmed"}.get(verdict_of(answer),
                                                                                     words[:1].lower() + words[1:])
    decision = answer.decision
    notes = [decision.why] * bool(decision and decision.why)
    if decision and decision.looks == 2:
        notes.append("the first and the next-best passages read")
    return f"decision: {words}" + (f" ({'; '.join(notes)})" if notes else "")
