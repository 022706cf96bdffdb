"""The verdict in words (rag/ui/decision_words.py, rag/ui/render.py, the CLI's text): answers built by hand for each
verdict, then the badge, the "How this was decided" details, the refusal message and the CLI lines they give.
No model and no index: the decision records are written here as rag/answer/engine.py writes them."""

from __future__ import annotations

import contextlib
from html import escape

from rag.__main__ import _ask
from rag.answer.cite import Citation, Claim
from rag.answer.result import REFUSAL, UNCONFIRMED, Answer, Decision, Found
from rag.search.evidence import Evidence
from rag.ui.conversation import Conversation
from rag.ui.decision_words import decision_details, decision_line, verdict_badge
from rag.ui.render import answer_message, evidence_panel, found_panel
from rag.ui.slots import AnswerSlots

QUESTION = "Why was the February trip called off?"
FIRST = Evidence("trip.txt", "The trip was called off after a weather balloon crossed U.S. airspace.", 0, 70, 0.8, "h1")
SECOND = Evidence("later.txt", "Blinken finally visited Beijing in June.", 0, 40, 0.6, "h2")
THRESHOLDS = {"second_look_below": 0.3, "refuse_below": 0.2, "show_at_least": 0.4, "rules": ["dangling", "grounding"]}
SIGNALS = {"sufficiency": 0.55, "correctness": 0.42, "grounding": 1.0, "copied": 0.9, "looks": 2.0,
           "mean_logprob": -0.31, "min_logprob": None}
DRAFT = "Canberra is the capital [1]."


def no_document(_item):
    return None


def answered(claims: list[Claim], citations: list[Citation], looks: int = 2, readings=(0.21, 0.55)) -> Answer:
    decision = Decision("answered", "answered", "", looks, list(readings), SIGNALS, THRESHOLDS)
    return Answer("...", False, citations, sum(c.supported for c in claims) / len(claims), QUESTION, [FIRST, SECOND],
                  claims=claims, decision=decision, draft="...")


def both_supported() -> Answer:
    claims = [Claim("It was called off after a weather balloon crossed U.S. airspace.", (1,), 0.9, True),
              Claim("Blinken visited Beijing in June.", (2,), 0.8, True)]
    return answered(claims, [Citation(1, "trip.txt", FIRST.text, 0, 70), Citation(2, "later.txt", SECOND.text, 0, 40)])


def one_unsupported() -> Answer:
    claims = [Claim("It was called off after a weather balloon crossed U.S. airspace.", (1,), 0.9, True),
              Claim("The weather was cold.", (), 0.1, False)]
    return answered(claims, [Citation(1, "trip.txt", FIRST.text, 0, 70)], looks=1, readings=(0.62,))


def unconfirmed() -> Answer:
    why = "the answer could not be confirmed from the passages (0.21 < 0.40)"
    decision = Decision("unconfirmed", "confirmation", why, 1, [0.62], {**SIGNALS, "looks": 1.0, "correctness": 0.08},
                        THRESHOLDS)
    return Answer(UNCONFIRMED, True, [], 1.0, QUESTION, [FIRST, SECOND], refusal_reason=why, draft=DRAFT,
                  decision=decision)


def refused_by_sufficiency() -> Answer:
    why = "the model's reading finds no answer in the passages (sufficiency 0.12 < 0.20)"
    decision = Decision("refused", "sufficiency", why, 2, [0.1, 0.12], {}, THRESHOLDS)
    return Answer(REFUSAL, True, [], 0.0, QUESTION, [FIRST, SECOND], refusal_reason=why, decision=decision)


def refused_without_evidence(fallback: str = "the model's states cannot be read: a model server") -> Answer:
    none = {"second_look_below": None, "refuse_below": None, "show_at_least": None, "rules": []}
    decision = Decision("refused", "evidence", "no relevant evidence", 1, [], {}, none, fallback)
    return Answer(REFUSAL, True, [], 0.0, QUESTION, [FIRST], refusal_reason="no relevant evidence", decision=decision)


def panel(answer: Answer) -> str:
    return evidence_panel(answer, QUESTION, 0, no_document)


# ---- the badge --------------------------------------------------------------------------------------------------------
def test_answered_badge_counts_the_cited_passages_in_words():
    badge = '<span class="badge ok">Answered from 2 passages</span>'
    assert verdict_badge(both_supported()) == badge
    assert f'<div class="answer-foot">{badge}</div>' in answer_message(both_supported(), QUESTION, 0)
    assert f'<div class="panel-head">Answer 1 {badge}</div>' in panel(both_supported())


def test_an_answer_with_an_unsupported_sentence_is_partial_and_lists_it():
    answer = one_unsupported()
    assert verdict_badge(answer) == ('<span class="badge partial" title="1 of 2 sentences not supported by a quote '
                                     '(underlined)">Answered from 1 passage</span>')
    assert '<h4>Not supported by any quote</h4><ul class="flagged"><li>The weather was cold.</li></ul>' in panel(answer)


def test_unconfirmed_and_refused_badges_say_so():
    assert verdict_badge(unconfirmed()) == ('<span class="badge unconfirmed">Not confirmed: check the passages below'
                                            '</span>')
    assert verdict_badge(refused_by_sufficiency()) == '<span class="badge refused">The documents don&#x27;t say</span>'


# ---- how it was decided -----------------------------------------------------------------------------------------------
def test_answered_details_hold_each_reading_against_its_threshold_and_the_signals():
    details = decision_details(both_supported())
    assert details.startswith('<details class="decision"><summary>How this was decided</summary><ul>')
    assert "<li>What decided: the checks passed</li>" in details
    assert "<li>Looks: read the first passages, then the next-best ones</li>" in details
    assert "<li>Sufficiency probe, first look: 0.21, below 0.30: the next-best passages were added</li>" in details
    assert "<li>Sufficiency probe, second look: 0.55, at least 0.20: the model wrote a draft</li>" in details
    assert ("<li>Confirmation signals: correctness probe 0.42 · key words found in the passages 0.90 · sentences "
            "supported 1.00 · mean log-probability of the draft&#x27;s words -0.31 (the answer is shown when their "
            "combination reaches 0.40)</li>") in details
    assert "Why:" not in details and "word rules alone" not in details
    assert details in panel(both_supported())


def test_a_single_look_that_sufficed_is_read_against_the_second_look_threshold():
    details = decision_details(one_unsupported())
    assert "<li>Looks: read the first passages</li>" in details
    assert "<li>Sufficiency probe, first look: 0.62, at least 0.30: the first passages were enough to write from</li>" \
        in details


def test_unconfirmed_details_say_why_with_the_numbers():
    details = decision_details(unconfirmed())
    assert "<li>What decided: the confirmation check</li>" in details
    assert "<li>Why: the answer could not be confirmed from the passages (0.21 &lt; 0.40)</li>" in details
    assert "correctness probe 0.08" in details


def test_refused_by_sufficiency_details_show_both_looks_and_the_refusal_threshold():
    details = decision_details(refused_by_sufficiency())
    assert "<li>What decided: the model&#x27;s reading of the passages (sufficiency probe)</li>" in details
    assert "<li>Sufficiency probe, first look: 0.10, below 0.30: the next-best passages were added</li>" in details
    assert "<li>Sufficiency probe, second look: 0.12, below 0.20: refused before writing</li>" in details
    assert "Confirmation signals" not in details


def test_a_refusal_before_the_model_says_so_and_names_the_fallback():
    details = decision_details(refused_without_evidence())
    assert details == ('<details class="decision"><summary>How this was decided</summary><ul>'
                       "<li>What decided: the search: nothing relevant was found</li><li>The model was not asked</li>"
                       "<li>Decided by the word rules alone: the model&#x27;s states cannot be read: a model server</li>"
                       "</ul></details>")


def test_decision_text_is_escaped():
    answer = refused_without_evidence(fallback="<script>alert(1)</script>")
    assert "<script>" not in panel(answer) and "&lt;script&gt;alert(1)&lt;/script&gt;" in panel(answer)


def test_nothing_on_screen_speaks_of_a_judge_or_contradicts_the_verdict():
    for answer in (both_supported(), one_unsupported(), unconfirmed(), refused_by_sufficiency(),
                   refused_without_evidence()):
        shown = answer_message(answer, QUESTION, 0) + panel(answer)
        assert "judge" not in shown.lower() and "probes" not in shown
        assert "passages hold the answer" not in shown and "answer confirmed" not in shown
    assert "Not supported" not in panel(both_supported())


# ---- refusals ---------------------------------------------------------------------------------------------------------
def test_unconfirmed_message_leads_with_not_confirmed_and_keeps_the_draft_in_the_panel():
    answer = unconfirmed()
    message = answer_message(answer, QUESTION, 0)
    assert message.startswith(f'<div class="refusal unconfirmed"><strong>{escape(UNCONFIRMED)}</strong>')
    assert ('<div class="withheld">The answer the model wrote was withheld: the answer could not be confirmed from the '
            "passages.</div>") in message
    assert "0.21" not in message, "the numbers are one click away, in the panel"
    shown = panel(answer)
    assert '<p class="reason">Why: the answer could not be confirmed from the passages</p>' in shown
    assert f'<details class="draft"><summary>What the model wrote (withheld)</summary>{DRAFT}</details>' in shown
    assert "<h4>Passages to check</h4>" in shown


def test_refused_message_says_the_documents_dont_say_with_the_closest_passages():
    message = answer_message(refused_by_sufficiency(), QUESTION, 0)
    assert message.startswith("<div class=\"refusal refused\"><strong>The documents don't say.</strong>")
    assert "withheld" not in message and "Closest passages found:" in message and "trip.txt" in message
    shown = panel(refused_by_sufficiency())
    assert "<h4>Closest passages found</h4>" in shown and "What the model wrote" not in shown
    assert '<p class="reason">Why: the model&#x27;s reading finds no answer in the passages</p>' in shown


def test_a_draft_refused_by_a_word_rule_is_offered_in_the_panel():
    why = "the model says the passages don't give the answer"
    answer = Answer(REFUSAL, True, [], 0.0, QUESTION, [FIRST], refusal_reason=why, draft="The passages don't say.",
                    decision=Decision("refused", "rule", why, 1, [0.5], dict(SIGNALS), THRESHOLDS))
    assert "<li>What decided: a check on the wording of the draft</li>" in panel(answer)
    assert "What the model wrote (withheld)" in panel(answer)


# ---- the second look, in the window and on the command line -----------------------------------------------------------
def test_the_second_look_replaces_the_passages_and_says_more_are_read():
    first = found_panel(Found([FIRST], QUESTION), QUESTION, 0, no_document)
    second = found_panel(Found([FIRST, SECOND], QUESTION, look=2), QUESTION, 0, no_document)
    assert '<span class="badge waiting">writing…</span>' in first and "<h4>Passages found</h4>" in first
    assert '<span class="badge waiting">reading more passages…</span>' in second
    assert "<h4>Passages found, with the next-best ones added</h4>" in second and "[2] later.txt" in second


class FakeEngine:
    def __init__(self, events):
        self.events = events
        self.pipeline = self

    def stream(self, question, history=None, evidence_k=None):
        yield from self.events

    def document_text(self, item):
        raise OSError("gone")


class FakeEngines:
    def __init__(self, engine):
        self.engine, self.slots = engine, AnswerSlots()

    def ready(self, model):
        return True

    def get(self, model):
        return self.engine

    def generating(self, engine):
        return contextlib.nullcontext()


def test_the_window_shows_the_second_look_then_the_verdict():
    events = [Found([FIRST], QUESTION), Found([FIRST, SECOND], QUESTION, look=2), "It was", both_supported()]
    chat, seen = Conversation(), []
    for _ in chat.ask(FakeEngines(FakeEngine(events)), QUESTION, "fast", None):
        seen.append((chat.turns[0].message, chat.turns[0].panel))
    assert any("Reading more passages…" in message and "reading more passages…" in shown and "later.txt" in shown
               for message, shown in seen)
    assert '<span class="badge ok">Answered from 2 passages</span>' in seen[-1][0]
    assert '<details class="decision">' in seen[-1][1]


def test_cli_prints_the_second_look_and_the_decision_in_words(capsys):
    events = [Found([FIRST], QUESTION), Found([FIRST, SECOND], QUESTION, look=2), "It was ...", both_supported()]
    _ask(FakeEngine(events), QUESTION, [], as_json=False)
    out = capsys.readouterr().out
    assert "Passages found (1):\n  [1] trip.txt" in out
    assert "Reading more passages (2):\n  [1] trip.txt" in out and "  [2] later.txt" in out
    assert "\ndecision: answered from 2 passages (the first and the next-best passages read)\n" in out
    assert "probes:" not in out and "word rules alone" not in out


def test_cli_decision_line_for_each_refusal():
    assert decision_line(unconfirmed()) == ("decision: not confirmed (the answer could not be confirmed from the "
                                            "passages (0.21 < 0.40))")
    assert decision_line(refused_by_sufficiency()) == (
        "decision: the documents don't say (the model's reading finds no answer in the passages (sufficiency 0.12 < "
        "0.20); the first and the next-best passages read)")


def test_cli_names_the_fallback(capsys):
    _ask(FakeEngine([Found([FIRST], QUESTION), refused_without_evidence()]), QUESTION, [], as_json=False)
    out = capsys.readouterr().out
    assert ("decision: the documents don't say (no relevant evidence)\n(decided by the word rules alone: the model's "
            "states cannot be read: a model server)\nThe documents don't say.") in out


def test_the_confirmations_own_score_is_shown_against_its_threshold():
    answer = unconfirmed()
    answer.decision.signals["confidence"] = 0.21
    details = decision_details(answer)
    assert ("<li>Confirmation 0.21, below 0.40 (the answer is shown at 0.40 or above), from: correctness probe 0.08 · "
            "key words found in the passages 0.90") in details
