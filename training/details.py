"""Questions that ask for one detail of a thing the documents talk about (its default, maximum, version, port, memory,
timeout, file ...), and whether a text gives that kind of detail at all: the absent-detail questions.

Example: DETAILS[0].given("ReplayWindow = <bytes> (16) ... the default is 16 bytes", "ReplayWindow") -> True
         subjects("Set ReplayWindow in tinc.conf; Privoxy ignores it.") -> ["ReplayWindow", "Privoxy"]
Most questions the documents do not answer are of this shape ("What is the maximum size of the cache?" beside a
passage about the cache that names no size): the thing is there, the detail is not. training/probe_questions.py asks
for a detail of a name that its whole document gives nowhere near it (an unanswerable question).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NEAR_CHARS = 100  # a detail counts for a name mentioned in a passage when it is this close to the mention


@dataclass(frozen=True)
class Detail:
    name: str
    questions: tuple[str, ...]
    pattern: re.Pattern

    def given(self, text: str, around: str | None = None) -> bool:
        """Whether text gives this kind of detail (near `around` when a name is given)."""
        if around is None:
            return bool(self.pattern.search(text))
        at = [m.start() for m in re.finditer(re.escape(around), text)]
        return any(abs(m.start() - a) <= NEAR_CHARS for m in self.pattern.finditer(text) for a in at)


def _detail(name: str, questions: tuple[str, ...], pattern: str) -> Detail:
    return Detail(name, questions, re.compile(pattern, re.I))


DETAILS = (
    _detail("default", ("What is the default value of {x}?", "What does {x} default to?",
                        "What is {x} set to by default?"),
            r"\bdefaults?\b|\bdefaulting\b"),
    _detail("maximum", ("What is the maximum value of {x}?", "What is the largest value {x} accepts?",
                        "What is the upper limit for {x}?"),
            r"\bmax(?:imum|imal)?\b|\bat most\b|\bup to\b|\bno more than\b|\blargest\b|\bupper (?:limit|bound)\b"
            r"|\blimit(?:ed|s)? (?:to|of)\b"),
    _detail("minimum", ("What is the minimum value of {x}?", "What is the smallest value {x} accepts?"),
            r"\bmin(?:imum|imal)?\b|\bat least\b|\bno (?:less|fewer) than\b|\bsmallest\b|\blower (?:limit|bound)\b"),
    _detail("version", ("In which version was {x} introduced?", "Since which release is {x} available?",
                        "Which version added {x}?"),
            r"\b(?:version|since|introduced|added in|new in|release[sd]?|deprecated)\b[^.]{0,40}\d+\.\d+"),
    _detail("duration", ("How many seconds does {x} wait before giving up?", "What is the timeout of {x}, in seconds?",
                         "How long does {x} take?", "How long did {x} last?"),
            r"\b\d+(?:\.\d+)?\s*(?:ms|milliseconds?|s|secs?|seconds?|minutes?|mins?|hours?|days?|weeks?)\b"),
    _detail("memory", ("How much memory does {x} need?", "How many bytes of memory does {x} use?"),
            r"\b\d+(?:\.\d+)?\s*(?:bytes?|[kmgt]i?b|kilobytes?|megabytes?|gigabytes?)\b"),
    _detail("port", ("Which TCP port does {x} listen on?", "Which port number does {x} use?"),
            r"\bports?\b[^.]{0,30}\b\d{2,5}\b|\b\d{2,5}/(?:tcp|udp)\b"),
    _detail("year", ("In which year was {x} added?", "When was {x} first released?"),
            r"\b(?:19[89]\d|20[0-3]\d)\b"),
    _detail("platform", ("On which operating systems does {x} work?", "Which platforms does {x} support?"),
            r"\b(?:linux|windows|freebsd|openbsd|netbsd|macos|mac os|os x|solaris|aix|hp-ux|cygwin)\b"),
    _detail("file", ("Which file does {x} read its settings from?", "In which file is {x} stored?"),
            r"(?:~|\$\w+)?/[\w.-]+/[\w./-]+|\b[\w-]+\.(?:conf|cfg|ini|xml|json|log|db|pem|key)\b"),
    _detail("date", ("On what date did {x} happen?", "On which day was {x} announced?"),
            r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:tember)?|"
            r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.? \d{1,2}\b|\b\d{1,2} (?:jan|feb|mar|apr|may|jun|jul|aug|sep|"
            r"oct|nov|dec)[a-z]*\b|\b\d{4}-\d\d-\d\d\b"),
    _detail("clock", ("At what time of day does {x} run?", "At what time did {x} begin?"),
            r"\b\d{1,2}(?::\d\d)?\s*(?:a\.?m\.?|p\.?m\.?)(?!\w)|\b\d{1,2}:\d\d\b|\bnoon\b|\bmidnight\b"),
    _detail("percent", ("What percentage of {x} is affected?", "By how many percent does {x} change?"),
            r"\b\d+(?:\.\d+)?\s*(?:%|per ?cent\b)"),
    _detail("money", ("How much does {x} cost?", "How much money was spent on {x}?"),
            r"[$€£¥]\s?\d|\b\d[\d,.]*\s*(?:dollars?|euros?|pounds|yuan|usd|eur)\b|\b(?:free of charge|costs?)\b"),
    _detail("distance", ("How far does {x} reach?", "At what height or distance is {x}?"),
            r"\b\d[\d,.]*\s*(?:feet|foot|ft|metres?|meters?|km|kilomet(?:re|er)s?|miles?|inch(?:es)?|cm|mm)\b"),
    _detail("count", ("How many threads does {x} use?", "How many connections can {x} handle at once?"),
            r"\bthreads?\b[^.]{0,30}\b\d+\b|\b\d+\b[^.]{0,20}\b(?:threads?|connections?|clients?|sessions?)\b"
            r"|\bconnections?\b[^.]{0,30}\b\d+\b"),
)


_PLAIN_CAPITALISED = re.compile(r"[A-Z][a-z]+")
_NAME = re.compile(r"\b(?:[A-Z][a-z0-9]+[A-Z]\w*|[a-z]+[-_][a-z0-9_-]+|[A-Z]{2,}[a-z]*\d*|[A-Z][a-z]{2,})\b")


def names_in(text: str) -> list[str]:
    """Option-, program- and proper-name-like words: "ReplayWindow", "socket-timeout", "DNS", "Privoxy"."""
    return list(dict.fromkeys(m.group(0) for m in _NAME.finditer(text)))


def subjects(text: str) -> list[str]:
    """The name-like words of text a question can be about: option, program and proper names, not a capitalised
    word that only starts a sentence ("Similarly", "Here")."""
    found = []
    for name in names_in(text):
        if _PLAIN_CAPITALISED.fullmatch(name):
            before = [text[:m.start()].rstrip()[-1:] for m in re.finditer(r"\b" + name + r"\b", text)]
            if all(b in ("", ".", "!", "?", ":", ";", ")", "(", '"') for b in before):
                continue
        found.append(name)
    return found
