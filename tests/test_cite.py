"""Citation parsing and verification edge cases, checked with the real embedding model (no language model needed)."""

import pytest

from rag.answer.cite import MIN_LEXICAL, citations_for, grounding, lexical_support, render_answer, split_markers, verify
from rag.search.evidence import Evidence, SentenceVectors

EVIDENCE = [
    Evidence("a.txt", "Blinken met Xi Jinping in Beijing on Monday.", 100, 145, 0.9),
    Evidence("b.txt", "The trip was called off in February after a weather balloon was spotted.", 10, 83, 0.8),
]


@pytest.mark.parametrize(("raw", "text", "cited"), [
    ("Blinken met Xi [1].", "Blinken met Xi [1].", [(1,)]),
    ("Blinken met Xi [Source 1].", "Blinken met Xi [1].", [(1,)]),
    ("Blinken met Xi [1, 2].", "Blinken met Xi [1] [2].", [(1, 2)]),
    ("Blinken met Xi [1][2].", "Blinken met Xi [1] [2].", [(1, 2)]),
    ("Blinken met Xi [7].", "Blinken met Xi.", [()]),  # out of range: dropped
    ("Blinken met Xi. [2]", "Blinken met Xi. [2]", [(2,)]),  # a marker after the full stop still counts
    ("No markers at all.", "No markers at all.", [()]),
])
def test_markers_are_normalised_and_out_of_range_dropped(raw, text, cited):
    clean, claims = split_markers(raw, count=2)
    assert clean == text
    assert [numbers for _, numbers in claims] == cited


def test_two_sentences_keep_their_own_markers():
    _, claims = split_markers("Blinken met Xi [1]. It was called off over a balloon [2].", count=2)
    assert claims == [("Blinken met Xi.", (1,)), ("It was called off over a balloon.", (2,))]


def test_lexical_support_requires_the_numbers_of_the_claim():
    quote = "Blinken will visit China from June 18 to 19."
    assert lexical_support("Blinken visits China June 18 to 19", quote) == 1.0
    assert lexical_support("Blinken visits China on June 20", quote) == 0.0


@pytest.fixture(scope="module")
def vectors(embedder):
    return SentenceVectors(embedder)


def test_supported_claim_gets_its_citation(vectors):
    claims = verify([("Blinken met Xi Jinping in Beijing.", (1,))], EVIDENCE, vectors)
    assert claims[0].supported and claims[0].cited == (1,)
    citation = citations_for(claims, EVIDENCE)[0]
    assert (citation.source, citation.quote, citation.start, citation.end) == ("a.txt", EVIDENCE[0].text, 100, 145)


def test_quote_that_does_not_support_its_sentence_is_flagged(vectors):
    claims = verify([("Canberra is the capital of Australia.", (1,))], EVIDENCE, vectors)
    assert not claims[0].supported
    assert grounding(claims) == 0.0 and citations_for(claims, EVIDENCE) == []


def test_wrong_number_is_reattributed_to_the_supporting_passage(vectors):
    claims = verify([("The trip was called off after a weather balloon was spotted.", (1,))], EVIDENCE, vectors)
    assert claims[0].supported and claims[0].cited == (2,)


THREADS = [
    Evidence("t.txt", "Zuckerberg said that since its launch on July 6th, Threads registrations kept growing.", 0, 86, 0.9),
    Evidence("t.txt", "On the first day of its launch, Threads attracted 30 million users.", 90, 158, 0.8),
    Evidence("c.txt", "The COVID-19 variant spread quickly in the autumn.", 0, 51, 0.5),
]


def test_a_fact_of_the_cited_passage_completed_by_another_is_supported_and_cites_both(vectors):
    question = "How many people used Threads on its first day?"
    claims = verify([("30 million users joined Threads on its first day, July 6th.", (2,))], THREADS, vectors, question)
    assert claims[0].supported and claims[0].cited == (2, 1)


def test_a_sentence_its_cited_passage_does_not_hold_is_not_completed_by_others(vectors):
    question = "How many people used Threads on its first day?"
    claims = verify([("30 million users joined Threads on its first day, July 6th.", (3,))], THREADS, vectors, question)
    assert claims[0].cited != (3, 1) and claims[0].cited != (3, 2)  # not a combination: re-attributed or flagged
    invented = verify([("30 million users joined on July 9th.", (2,))], THREADS, vectors, question)
    assert not invented[0].supported  # no passage gives the 9th


def test_uncited_sentence_is_checked_against_all_passages(vectors):
    claims = verify([("Blinken met Xi Jinping.", ())], EVIDENCE, vectors)
    assert claims[0].supported and claims[0].cited == (1,)


def test_grounding_is_supported_over_all(vectors):
    claims = verify([("Blinken met Xi Jinping.", (1,)), ("He ate Peking duck at a banquet.", (1,))], EVIDENCE, vectors)
    assert [c.supported for c in claims] == [True, False]
    assert grounding(claims) == 0.5


def test_empty_text_has_no_claims(vectors):
    assert split_markers("", count=2) == ("", [])
    assert verify([], EVIDENCE, vectors) == [] and grounding([]) == 0.0


def test_sentences_about_the_passages_are_not_claims():
    _, claims = split_markers("Blinken met Xi [1]. This is supported by passage [2].", count=2)
    assert claims == [("Blinken met Xi.", (1, 2))]


def test_restating_the_question_is_not_support():
    question = "What did Blinken eat at the banquet in Beijing in 2023?"
    assert lexical_support("Blinken ate at the banquet in Beijing in 2023.", "Blinken dined in Beijing in 2023.",
                           question) == 0.0
    # numbers given in the question need not be in the quote; new ones must
    quote = "The last visit was during Pompeo's tenure in October 2018."
    assert lexical_support("Before the 2023 trip, the last visit was by Pompeo.", quote,
                           "Who visited before the 2023 trip?") == 1.0
    assert lexical_support("Pompeo visited in 2019.", quote, "Who visited before the 2023 trip?") == 0.0


def test_answer_text_carries_the_verified_numbers(vectors):
    claims = verify([("The trip was called off after a weather balloon was spotted.", (1,)),
                     ("He ate Peking duck", (1,))], EVIDENCE, vectors)
    assert render_answer(claims) == "The trip was called off after a weather balloon was spotted [2]. He ate Peking duck"


def test_a_paraphrase_with_few_shared_words_is_supported_by_its_meaning(vectors):
    sentence = "Blinken and Xi Jinping held a meeting in the Chinese capital."
    assert lexical_support(sentence, EVIDENCE[0].text) < MIN_LEXICAL  # the words alone would not carry it
    claims = verify([(sentence, (1,))], EVIDENCE, vectors)
    assert claims[0].supported and claims[0].cited == (1,)

