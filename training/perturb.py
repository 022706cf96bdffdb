"""Changes that turn a supported sentence (or an answerable question) into one the passage does not support: a number,
a name or option, a negation or a comparative swapped (FactCC-style), each only where the text has such a part.

Example: swap_number("The default is 300 seconds.", random.Random(0)) -> "The default is 600 seconds."
         negate("Privoxy can filter cookies.") -> "Privoxy cannot filter cookies."
         swap_comparative("Lower values mean faster retries.") -> "Higher values mean faster retries."
         swap_name("Set ReplayWindow to 32.", ["ReplayWindow", "PingTimeout"], random.Random(0))
           -> "Set PingTimeout to 32."
"""

from __future__ import annotations

import random
import re

_NUMBER = re.compile(r"(?<![\w.])(\d{1,7})(?![\w.]\d)")
_NAME = re.compile(r"\b(?:[A-Z][a-z0-9]+[A-Z]\w*|[a-z]+[-_][a-z0-9_-]+|[A-Z]{2,}[a-z]*\d*|[A-Z][a-z]{2,})\b")
_NEGATIONS = [(r"\bcannot\b", "can"), (r"\bcan not\b", "can"), (r"\bis not\b", "is"), (r"\bare not\b", "are"),
              (r"\bdoes not\b", "does"), (r"\bdo not\b", "do"), (r"\bwill not\b", "will"), (r"\bmust not\b", "must"),
              (r"\bshould not\b", "should"), (r"\bcan\b", "cannot"), (r"\bis\b", "is not"), (r"\bare\b", "are not"),
              (r"\bwill\b", "will not"), (r"\bmust\b", "must not"), (r"\bshould\b", "should not")]
_OPPOSITES = ["higher/lower", "more/less", "larger/smaller", "greater/smaller", "before/after", "enable/disable",
              "enabled/disabled", "enables/disables", "true/false", "yes/no", "minimum/maximum", "increase/decrease",
              "increases/decreases", "first/last", "faster/slower", "always/never", "allow/deny", "allowed/denied",
              "allows/denies", "on/off", "start/stop", "client/server", "input/output", "read/write", "left/right",
              "older/newer", "earlier/later", "longer/shorter", "inside/outside", "local/remote"]
_SWAP = {a: b for pair in _OPPOSITES for a, b in [pair.split("/"), pair.split("/")[::-1]]}
_OPPOSITE = re.compile(r"\b(" + "|".join(sorted(_SWAP, key=len, reverse=True)) + r")\b", re.I)


def swap_number(text: str, rng: random.Random) -> str | None:
    """One number replaced by another of similar size (never itself)."""
    found = list(_NUMBER.finditer(text))
    if not found:
        return None
    match = rng.choice(found)
    value = int(match.group(1))
    other = rng.choice([value * 2, value + 1, max(0, value - 1), value * 10, value // 2 or 3])
    if other == value:
        other = value + 2
    return text[:match.start(1)] + str(other) + text[match.end(1):]


def negate(text: str) -> str | None:
    """The first negation removed, or the first auxiliary negated."""
    for pattern, replacement in _NEGATIONS:
        match = re.search(pattern, text)
        if match:
            return text[:match.start()] + replacement + text[match.end():]
    return None


def swap_comparative(text: str) -> str | None:
    """The first word with an opposite (higher/lower, enable/disable, before/after ...) replaced by it."""
    match = _OPPOSITE.search(text)
    if not match:
        return None
    word = match.group(1)
    other = _SWAP[word.lower()]
    other = other.capitalize() if word[0].isupper() else other
    return text[:match.start(1)] + other + text[match.end(1):]


def names_in(text: str) -> list[str]:
    """Option-, program- and proper-name-like words: "ReplayWindow", "socket-timeout", "DNS", "Privoxy"."""
    return list(dict.fromkeys(m.group(0) for m in _NAME.finditer(text)))


def swap_name(text: str, pool: list[str], rng: random.Random) -> str | None:
    """One name-like word of text replaced by a name from pool (the same document's) that text does not hold."""
    own = names_in(text)
    others = [name for name in pool if name not in text and name.lower() not in text.lower()]
    if not own or not others:
        return None
    target = rng.choice(own)
    same_shape = [n for n in others if _shape(n) == _shape(target)] or others
    return re.sub(r"\b" + re.escape(target) + r"\b", rng.choice(same_shape), text, count=1)


def _shape(word: str) -> str:
    return "".join("A" if c.isupper() else "a" if c.islower() else "9" if c.isdigit() else "-" for c in word[:3])


def perturbations(text: str, pool: list[str], rng: random.Random) -> list[tuple[str, str]]:
    """Every applicable change of text, as (kind, changed text), without repeats or no-ops."""
    made = [("number", swap_number(text, rng)), ("negation", negate(text)), ("comparative", swap_comparative(text)),
            ("name", swap_name(text, pool, rng))]
    seen, out = {text}, []
    for kind, changed in made:
        if changed and changed not in seen:
            seen.add(changed)
            out.append((kind, changed))
    return out
