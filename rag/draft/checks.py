"""Questions drawn from your documents: the bundled model drafts a question, its short answer and the supporting
quote from one passage; an item is kept only when every check holds.

Example: draft_one(drafter, passage, "factoid")
  -> Drafted(item={"question": "Which cipher does tinc use by default for UDP packets?", "answers": ["aes-256-cbc"],
                   "quotes": ["Cipher = <cipher> (aes-256-cbc)"], "type": "factoid", "drafted": true, ...}, reason="")
     or Drafted(None, reason="the answer is not in the quote")
Checks: the quote is verbatim in the passage (its offsets index the document as read); the answer is in the quote
and not in the question; retrieval ranks the quote's passage in its top 3 for the question (the round trip); the
question is not a near-duplicate of a kept one. An unanswerable question names what it asks about, and that is
checked absent from every document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.answer.wellformed import MARKERS
from rag.draft.passages import DraftPassage
from rag.generate.prompts import EXAMPLE_NAMES, Passage, answer_messages, draft_messages, unanswerable_messages
from rag.read.chunking import sentence_spans
from rag.text import content_words

ROUND_TRIP_K = 3
NEAR_DUPLICATE = 0.6  # share of content words two questions have in common (of the smaller) above which one goes
MAX_ANSWER_WORDS = 25
KEY_TERM_SHARE = 0.8
RESTATED_SHARE = 0.5  # of the answer's content words that must be new to the question
MAX_KEY_TERMS = 3
MAX_DRAFT_TOKENS = 120
MAX_ANSWER_TOKENS = 96
_LINE = re.compile(r"^\W*(question|answer|quote|missing)\s*:\s*(.+?)\s*$", re.I | re.M)
_PLAIN = re.compile(r"[^a-z0-9]+")


def plain(text: str) -> str:
    """Lower case, punctuation and markup to spaces: plain("The `Port` (655).") -> "the port 655" """
    return " ".join(_PLAIN.sub(" ", text.lower()).split())


def contains(haystack: str, needle: str) -> bool:
    """Whole-word containment after plain(): contains("Port 655 is used.", "port 655") -> True"""
    needle = plain(needle)
    return bool(needle) and f" {needle} " in f" {plain(haystack)} "


def parse_fields(reply: str) -> dict[str, str]:
    """The labelled lines of a reply: "Question: A?\\nAnswer: B" -> {"question": "A?", "answer": "B"}; a first line
    that is a question without its label counts as the question ("Why A?\\nAnswer: B")."""
    found: dict[str, str] = {}
    for label, value in _LINE.findall(reply):
        found.setdefault(label.lower(), value.strip().strip('"“”').strip())
    first = reply.strip().splitlines()[0].strip() if reply.strip() else ""
    if "question" not in found and first.endswith("?") and not _LINE.match(first):
        found["question"] = first
    return found


def locate_quote(quote: str, passage: DraftPassage) -> tuple[int, int] | None:
    """Absolute (start, end) of the quote in the document, found verbatim in the passage, or with its spacing or a
    final full stop differing; None when the passage does not hold it."""
    quote = quote.strip()
    for candidate in (quote, quote.rstrip("."), " ".join(quote.split())):
        at = passage.text.find(candidate) if candidate else -1
        if at >= 0:
            return passage.start + at, passage.start + at + len(candidate)
    words = [re.escape(w) for w in quote.rstrip(".").split()]
    match = re.search(r"\s+".join(words), passage.text) if words else None
    return (passage.start + match.start(), passage.start + match.end()) if match else None


def key_terms(answer: str, quote: str) -> list[list[str]] | None:
    """For an answer that paraphrases its quote: the longest words of the answer that the quote holds, each a
    key-term group the eval grades by (evals/metrics.py), when the quote holds at least KEY_TERM_SHARE of the
    answer's content words; else None.
    Example: key_terms("It is started when a subnet becomes reachable.", "This script is started when a subnet
    becomes reachable.") -> [["reachable"], ["started"], ["becomes"]]"""
    asked = content_words(answer)
    if len(asked) < 2 or len(asked & content_words(quote)) < KEY_TERM_SHARE * len(asked):
        return None
    held = [w for w in dict.fromkeys(plain(answer).split()) if content_words(w) and content_words(w) <= asked
            and contains(quote, w)]
    return [[w] for w in sorted(held, key=len, reverse=True)[:MAX_KEY_TERMS]] or None


def sentence_holding(answer: str, passage: DraftPassage) -> tuple[int, int] | None:
    """Absolute (start, end) of the one sentence of the passage that holds the answer, else None."""
    holding = [(start, end) for start, end in sentence_spans(passage.text) if contains(passage.text[start:end], answer)]
    if len(holding) != 1:
        return None
    start, end = holding[0]
    return passage.start + start, passage.start + end


def question_type(question: str) -> str:
    """The item's type from the question's first words: "Why does ...?" -> "why", "How many ...?" -> "factoid" """
    first = plain(question).split()[:2]
    if first[:1] == ["why"]:
        return "why"
    if first[:1] == ["how"] and first[1:] not in (["many"], ["much"], ["long"], ["often"], ["big"], ["large"]):
        return "how"
    return "factoid"


def restates(answer: str, question: str) -> bool:
    """True when under half of the answer's content words are new to the question: "How can you get a backtrace
    from a core dump file?" -> "extract the backtrace from a core dump file" adds one word of five."""
    said = content_words(answer)
    return bool(said) and len(said - content_words(question)) < RESTATED_SHARE * len(said)


def copies_example(question: str) -> bool:
    return any(contains(question, name) for name in EXAMPLE_NAMES)


def near_duplicate(question: str, kept: list[set[str]]) -> bool:
    words = content_words(question)
    return any(words and other and len(words & other) >= NEAR_DUPLICATE * min(len(words), len(other))
               for other in kept)


@dataclass
class Drafted:
    item: dict | None
    reason: str = ""  # why nothing was kept ("" when kept)
    reply: str = ""


@dataclass
class DraftChecks:
    """What a kept item must not repeat: the questions and quote spans kept so far."""
    questions: list[set[str]] = field(default_factory=list)
    spans: set[tuple[str, int, int]] = field(default_factory=set)

    def add(self, item: dict) -> None:
        if not item["answers"]:
            return  # an unanswerable item has no quote span, and is not checked against (as it was drafted)
        self.questions.append(content_words(item["question"]))
        self.spans.add((item["sources"][0], item["quote_start"], item["quote_end"]))


def round_trip(pipeline, question: str, source: str, start: int, end: int) -> bool:
    """True when retrieval's top ROUND_TRIP_K chunks for the question include one holding the quote's span."""
    for hit in pipeline.retriever.retrieve(question)[:ROUND_TRIP_K]:
        meta = hit.node.metadata
        if meta.get("source") == source and int(meta["start"]) < end and start < int(meta["end"]):
            return True
    return False


def check_answerable(reply: str, passage: DraftPassage, pipeline, checks: DraftChecks) -> Drafted:
    """Parse a drafted question/answer/quote and run every check; the item, or the first check it failed."""
    got = parse_fields(reply)
    question, answer, quote = got.get("question", ""), got.get("answer", ""), got.get("quote", "")
    if not (question and answer and quote) or not question.rstrip().endswith("?"):
        return Drafted(None, "the reply is not a question, answer and quote", reply)
    if copies_example(question):
        return Drafted(None, "the question copies the prompt's example", reply)
    if len(answer.split()) > MAX_ANSWER_WORDS:
        return Drafted(None, "the answer is too long", reply)
    known = pipeline.document(passage.file_hash)
    if known is None:
        return Drafted(None, "the document was removed while drafting", reply)
    document = known[0]
    span = locate_quote(quote, passage)
    verbatim = span is not None and contains(document[span[0]:span[1]], answer)
    # a paraphrase is graded by its words in the quote
    terms = key_terms(answer, document[span[0]:span[1]]) if span is not None and not verbatim else None
    if not (verbatim or terms):
        # the model's quote is off (not verbatim, or not the sentence holding the answer): the passage's own
        # sentence that holds the answer is the quote, when exactly one does
        rescued = sentence_holding(answer, passage)
        if rescued is None:
            return Drafted(None, "the quote is not verbatim in the passage" if span is None
                           else "the answer is not in the quote", reply)
        span = rescued
    quote = document[span[0]:span[1]]
    if contains(question, answer):
        return Drafted(None, "the question gives its answer away", reply)
    if restates(answer, question):
        return Drafted(None, "the answer restates the question", reply)
    if (passage.source, *span) in checks.spans or near_duplicate(question, checks.questions):
        return Drafted(None, "a near-duplicate of a kept item", reply)
    if not round_trip(pipeline, question, passage.source, *span):
        return Drafted(None, f"retrieval does not rank the passage in its top {ROUND_TRIP_K}", reply)
    item = {"question": question, "answers": [answer], "sources": [passage.source], "quotes": [quote],
            **({"key_terms": terms} if terms and not contains(quote, answer) else {}),
            "type": question_type(question), "history": [], "drafted": True, "quote_start": span[0],
            "quote_end": span[1], "passage": {"start": passage.start, "end": passage.end, "text": passage.text}}
    return Drafted(item, "", reply)


def absent_everywhere(term: str, texts) -> bool:
    """True when no document text holds the term as whole words (case and punctuation ignored)."""
    return not any(contains(text, term) for text in texts)


def check_unanswerable(reply: str, passage: DraftPassage, texts, checks: DraftChecks) -> Drafted:
    """A question near the passage whose missing thing is named in it and found in no document."""
    got = parse_fields(reply)
    question, missing = got.get("question", ""), got.get("missing", "")
    if not (question and missing) or not question.rstrip().endswith("?") or len(missing.split()) > 4:
        return Drafted(None, "the reply is not a question and its missing thing", reply)
    if copies_example(question):
        return Drafted(None, "the question copies the prompt's example", reply)
    if not contains(question, missing):
        return Drafted(None, "the missing thing is not named in the question", reply)
    if not absent_everywhere(missing, texts):
        return Drafted(None, "the documents do mention the missing thing", reply)
    if near_duplicate(question, checks.questions):
        return Drafted(None, "a near-duplicate of a kept item", reply)
    item = {"question": question, "answers": [], "sources": [passage.source], "quotes": [], "type": "unanswerable",
            "history": [], "drafted": True, "missing": missing,
            "passage": {"start": passage.start, "end": passage.end, "text": passage.text}}
    return Drafted(item, "", reply)


def answer_round_trip(llm, drafted: Drafted, passage: DraftPassage) -> Drafted:
    """The second round trip: the model answers the drafted question from the passage alone, as the engine asks it,
    and that answer must contain the drafted one; it is kept with the item (`generated_answer`)."""
    item = drafted.item
    messages = answer_messages(item["question"], [Passage(passage.header, passage.text)], llm.small_model)
    answer = MARKERS.sub("", "".join(llm.stream(messages, MAX_ANSWER_TOKENS))).strip()
    if not contains(answer, item["answers"][0]):
        return Drafted(None, "the model's answer from the passage lacks the drafted answer", drafted.reply)
    return Drafted({**item, "generated_answer": answer}, "", drafted.reply)


def draft_one(llm, pipeline, passage: DraftPassage, kind: str, checks: DraftChecks, texts=(),
              round_trip_answer: bool = False) -> Drafted:
    """Ask the model for one item of `kind` (factoid, how, why or unanswerable) from the passage and check it;
    round_trip_answer: also have the model answer it from the passage (how the training questions are drafted)."""
    if kind == "unanswerable":
        reply = "".join(llm.stream(unanswerable_messages(passage.header, passage.text), MAX_DRAFT_TOKENS))
        return check_unanswerable(reply, passage, texts, checks)
    reply = "".join(llm.stream(draft_messages(passage.header, passage.text, kind), MAX_DRAFT_TOKENS))
    drafted = check_answerable(reply, passage, pipeline, checks)
    return answer_round_trip(llm, drafted, passage) if drafted.item and round_trip_answer else drafted
