"""Fitting the decision: the replay of the engine's policy on recorded questions (training/decision_replay.py) and
the labels of the training questions (training/decision_data.py), on hand-made records whose outcomes are known."""

from __future__ import annotations

import pytest

from training.decision_data import Question, drafted_right, span_right
from training.decision_replay import Policy, choose, figures, outcome, replay


def question(id_, answerable=True, looks=None, corpus="docs"):
    looks = looks or {1: {"draft": "It is 655 [1].", "correct": answerable, "present": answerable, "reasons": [],
                          "relevance": 0.6}}
    return Question(id_, corpus, "dev", answerable, "factoid", looks)


def scores(**by_key):
    """{"q1:1": (sufficiency, confidence)} -> the replay's score tables."""
    out = {"suff": {}, "confidence": {}}
    for key, (suff, confidence) in by_key.items():
        id_, look = key.split(":")
        out["suff"][("docs", id_, int(look))] = suff
        out["confidence"][("docs", id_, int(look))] = confidence
    return out


def two_looks(first_right=False, second_right=True):
    return {1: {"draft": "a", "correct": first_right, "present": first_right, "reasons": [], "relevance": 0.6},
            2: {"draft": "b", "correct": second_right, "present": second_right, "reasons": [], "relevance": 0.6}}


def test_a_low_first_reading_takes_the_second_look_and_its_draft():
    q = question("q1", looks=two_looks())
    found = outcome(q, scores(**{"q1:1": (0.2, 0.9), "q1:2": (0.8, 0.9)}), Policy(0.5, None, 0.5))
    assert (found["read"], found["look"], found["shown"], found["right"]) == (2, 2, True, True)


def test_a_high_first_reading_drafts_at_once():
    q = question("q1", looks=two_looks(first_right=True, second_right=False))
    found = outcome(q, scores(**{"q1:1": (0.7, 0.9), "q1:2": (0.1, 0.9)}), Policy(0.5, None, 0.5))
    assert (found["read"], found["look"], found["right"]) == (1, 1, True)


def test_a_refusal_before_drafting_reads_the_last_look_and_knows_what_it_cost():
    q = question("q1", looks=two_looks())
    found = outcome(q, scores(**{"q1:1": (0.2, 0.9), "q1:2": (0.1, 0.9)}), Policy(0.5, 0.3, 0.5))
    assert found["pre"] and not found["shown"] and found["would_be_right"]
    single = question("q2")  # one look only: it is the last, so the refusal threshold applies to it
    assert outcome(single, scores(**{"q2:1": (0.1, 0.9)}), Policy(0.5, 0.3, 0.5))["pre"]


def test_the_confirmation_withholds_below_its_threshold_and_empty_drafts_never_show():
    q = question("q1")
    assert not outcome(q, scores(**{"q1:1": (0.9, 0.2)}), Policy(None, None, 0.5))["shown"]
    empty = question("q2", looks={1: {"draft": "", "correct": False, "reasons": ["empty generation"], "relevance": 0.6}})
    assert not outcome(empty, scores(**{"q2:1": (0.9, 0.9)}), Policy(None, None, None))["shown"]


def test_nothing_relevant_is_refused_before_the_model_is_asked():
    q = question("q1", looks={1: {"draft": "x", "correct": True, "present": True, "reasons": [], "relevance": 0.2}})
    assert outcome(q, scores(**{"q1:1": (0.9, 0.9)}), Policy(None, None, None)) == {
        "shown": False, "right": False, "pre": False, "read": 0, "look": None}


def test_figures_count_what_misleads_a_user():
    qs = [question("a1"), question("a2"), question("u1", answerable=False)]
    table = scores(**{"a1:1": (0.9, 0.9), "a2:1": (0.9, 0.1), "u1:1": (0.9, 0.9)})
    found = figures(qs, [outcome(q, table, Policy(None, None, 0.5)) for q in qs])
    assert (found["right_shown"], found["unanswerable_refused"], found["wrong_shown"]) == (0.5, 0.0, pytest.approx(1 / 3))


def test_the_chosen_policy_refuses_the_unanswerable_and_keeps_the_right():
    qs = [question(f"a{n}") for n in range(8)] + [question(f"u{n}", answerable=False) for n in range(2)]
    table = scores(**{f"a{n}:1": (0.9, 0.8) for n in range(8)}, **{f"u{n}:1": (0.9, 0.2) for n in range(2)})
    policy = choose(qs, table)
    replayed = replay(qs, table, policy)
    assert replayed["docs"]["right_shown"] == 1.0 and replayed["docs"]["unanswerable_refused"] == 1.0
    assert 0.2 < policy.show <= 0.8


def test_a_drafted_answer_is_right_in_other_words_when_most_of_its_words_are_there():
    assert drafted_right("The -N option suppresses actual deliveries [1].", ["to suppress any actual deliveries"], [])
    assert not drafted_right("The -N option prints the queue [1].", ["to suppress any actual deliveries"], [])
    assert drafted_right("The port is 655 [1].", ["655"], [])
    assert not drafted_right("The port is 6550 [1].", ["655"], [])


def test_a_terms_answer_is_judged_by_its_first_sentence_against_the_span():
    span = "add_header: adds the given header to every response sent to the client"
    assert span_right("add_header adds a header to every response [1]. Many sites use it.", "What does add_header do?",
                      span)
    assert not span_right("add_header removes cookies from requests [1].", "What does add_header do?", span)
