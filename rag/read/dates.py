"""Find a document's date: parse the dates that metadata and datelines carry into ISO form.

Example: parse_date("D:20240131093000+01'00'") -> "2024-01-31";  parse_date("Wed, 21 Oct 2015 07:28:00 GMT") -> "2015-10-21"
         find_date("Blinken's visit\n\nBy YANG RAN | Updated: 2024-04-25 09:21\n\nUS Secretary ...") -> "2024-04-25"
         find_date("The treaty was signed on June 15, 2023.") -> ""  (a date in a sentence is not the document's date)
Numeric day/month orders (04/05/2024) are ambiguous and never read.
"""

from __future__ import annotations

import datetime as dt
import re

_MONTHS = {name: n for n, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")], start=1) for name in names}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_PATTERNS = [re.compile(p, re.IGNORECASE) for p in (
    r"\b" + _YEAR + r"(?P<sep>[-/.])(?P<m>[01]?\d)(?P=sep)(?P<d>[0-3]?\d)(?!\d)",  # 2024-04-25, 2024/04/25
    r"\b" + _MONTH + r"\s+" + _DAY + r",?\s+" + _YEAR + r"\b",                     # April 24, 2024
    r"\b" + _DAY + r"[\s-]+" + _MONTH + r",?[\s-]+" + _YEAR + r"\b",                # 24 April 2024, 24-Apr-2024
    r"\b" + _MONTH + r",?\s+" + _YEAR + r"\b",                                      # April 2024
)]
_PDF_DATE = re.compile(r"^D:(\d{4})(\d\d)?(\d\d)?")
_KEYWORD = re.compile(r"\b(updated|published|posted|released?|release (time|date)|last (updated|modified|revised|changed)"
                      r"|modified|revised|dated?|created|issued|written|pub(lication)? date)\b", re.IGNORECASE)
_BYLINE = re.compile(r"^\s*by\s+\S", re.IGNORECASE)
_DECORATION = re.compile(r"[\s,.:|()\[\]/-]+|\b((mon|tues|wednes|thurs|fri|satur|sun)day|mon|tue|wed|thu|fri|sat|sun)\b"
                         r"|\d\d?:\d\d(:\d\d)?(\s*[ap]m)?|\b(utc|gmt)\b", re.IGNORECASE)


def _iso(year: int, month: int | None = None, day: int | None = None) -> str:
    try:
        if day:
            return dt.date(year, month or 0, day).isoformat()
        if month:
            return f"{dt.date(year, month, 1):%Y-%m}"
        return f"{year:04d}" if 1900 <= year <= 2100 else ""
    except ValueError:
        return ""


def _first_date(text: str) -> tuple[str, re.Match | None]:
    """The earliest date in `text` in any pattern, with its match."""
    found: list[tuple[int, str, re.Match]] = []
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            parts = match.groupdict()
            month = int(parts["m"]) if parts.get("m") else _MONTHS[parts["month"].lower()]
            day = int(parts["d"]) if parts.get("d") else int(parts["day"]) if parts.get("day") else None
            iso = _iso(int(parts["year"]), month, day)
            if iso:
                found.append((match.start(), iso, match))
                break
    if not found:
        return "", None
    _, iso, match = min(found, key=lambda f: (f[0], -len(f[1])))
    return iso, match


def parse_date(value: str) -> str:
    """An ISO date ("YYYY-MM-DD", "YYYY-MM" or "YYYY") from a metadata value, or "" when it holds none."""
    value = value.strip()
    pdf = _PDF_DATE.match(value)
    if pdf:
        return _iso(int(pdf[1]), int(pdf[2]) if pdf[2] else None, int(pdf[3]) if pdf[3] else None)
    iso, _ = _first_date(value)
    if iso:
        return iso
    year = re.fullmatch(r"(?:19|20)\d\d", value)
    return value if year else ""


def find_date(text: str, within: int = 1500, datelines_only: bool = False) -> str:
    """The date of a document from its first `within` characters, or "" when none can be trusted.

    In order: a date on a dateline ("Updated: ...", "Published ...", "Date: ...", a byline "By ... | 2024-04-25");
    unless datelines_only, a line that is only a date ("Tuesday, June 13, 2023 10:05"), then a short line that ends
    in ", <date>" (a caption or dateline such as "Washington, D.C., June 15, 2023. /CFP"). A date inside running prose
    is never taken."""
    lines = text[:within].splitlines()
    for line in lines:
        if _KEYWORD.search(line) or _BYLINE.match(line):
            iso, _ = _first_date(line)
            if iso:
                return iso
    if datelines_only:
        return ""
    for line in lines:
        iso, match = _first_date(line)
        if iso and not _DECORATION.sub("", line[:match.start()] + line[match.end():]):
            return iso
    for line in lines:
        iso, match = _first_date(line)
        if iso and len(line.split()) <= 30 and line[:match.start()].rstrip().endswith(","):
            tail = line[match.end():].strip()
            if not tail or (tail[0] in ".|" and len(tail.split()) <= 3):
                return iso
    return ""
