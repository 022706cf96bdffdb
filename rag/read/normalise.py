"""Text normalised for retrieval, with a map back to every character of the original.

Example: normalise("A\u00a0 “quote”\r\n\r\nB") -> text 'A "quote"\n\nB', offsets [0, 1, 3, 4, ..]
so that any span [i, j) of the normalised text maps back with original_span(i, j) to the exact original slice.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
           "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"'}


@dataclass(frozen=True)
class NormalisedText:
    text: str
    offsets: tuple[int, ...]  # offsets[i] = index in the original of text[i]

    def original_span(self, i: int, j: int) -> tuple[int, int]:
        """Map the normalised span [i, j) (j > i) to the original span covering the same characters."""
        return self.offsets[i], self.offsets[j - 1] + 1


def normalise(original: str) -> NormalisedText:
    """NFKC, straight quotes, no control characters, whitespace runs collapsed (a blank line stays a paragraph break)."""
    out: list[str] = []
    offsets: list[int] = []
    i, n = 0, len(original)
    while i < n:
        char = original[i]
        if char.isspace():
            j = i
            while j < n and original[j].isspace():
                j += 1
            newlines = original.count("\n", i, j) + original.count("\u2029", i, j)
            gap = "\n\n" if newlines >= 2 else "\n" if newlines == 1 else " "
            if out:  # leading whitespace is dropped; trailing is removed below
                out.append(gap)
                offsets.extend([i] * len(gap))
            i = j
            continue
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co"):
            i += 1
            continue
        mapped = _QUOTES.get(char) or unicodedata.normalize("NFKC", char)
        out.append(mapped)
        offsets.extend([i] * len(mapped))
        i += 1
    text = "".join(out)
    stripped = text.rstrip()
    return NormalisedText(stripped, tuple(offsets[: len(stripped)]))
