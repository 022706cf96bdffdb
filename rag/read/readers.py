"""Read a document file into the text that all offsets refer to, with its blocks, title and date.

Example: read_document(Path("seeds/a.txt")) -> DocumentText(text=<the UTF-8 file as read>, kind="txt", title="...",
         date="2024-04-25", blocks=(Block(0, 44, "heading", 1), Block(46, 370, "paragraph"), ...))
For txt/md the text is the file itself and its blocks are found in it; for html/pdf/docx the text is made from the
document's structure, one block after another with a blank line between (stored beside the index so that every
citation's start:end can be checked against it). How each format is read: rag/read/formats/.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

from rag import config
from rag.errors import BadInputError
from rag.read.dates import find_date
from rag.read.formats.blocks import Block, assemble
from rag.read.formats.plain_text import find_blocks

__all__ = ["Block", "DocumentText", "MAX_FILE_BYTES", "READERS", "is_supported", "read_document", "reader_kind"]

READERS = {".txt": "txt", ".md": "txt", ".markdown": "txt", ".html": "html", ".htm": "html", ".pdf": "pdf",
           ".docx": "docx"}
MARKDOWN = {".md", ".markdown"}
MAX_FILE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class DocumentText:
    text: str
    kind: str  # txt | html | pdf | docx
    file_hash: str  # sha256 of how it is read (rag.config.READING) and the file's bytes: the key of the text as read
    warnings: tuple[str, ...] = field(default=())
    title: str = ""  # "" when the document shows none
    date: str = ""  # ISO "YYYY-MM-DD", "YYYY-MM" or "YYYY"; "" when none can be trusted
    blocks: tuple[Block, ...] = ()  # in order, not overlapping, covering every non-space character of text

    @property
    def is_file_text(self) -> bool:
        """True when offsets index the file as read with UTF-8 (no extraction, no fallback decoding)."""
        return self.kind == "txt" and not self.warnings


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in READERS


def reader_kind(name: str) -> str:
    """The reader for a file name ("a.PDF" -> "pdf"); BadInputError naming the accepted types if there is none."""
    suffix = Path(name).suffix.lower()
    if suffix not in READERS:
        raise BadInputError(f"{name}: unsupported type {suffix or '(none)'}; use one of {', '.join(sorted(READERS))}")
    return READERS[suffix]


def read_document(path: Path, name: str | None = None) -> DocumentText:
    """Read one file; raise BadInputError (what is wrong, what to do) when it cannot be used.

    `name` is what the file is called in messages and picks its reader (default: path.name; an upload's temp copy
    is checked under the name it will be saved as)."""
    name = name or path.name
    kind = reader_kind(name)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise BadInputError(f"{name}: {size / 2**20:.0f} MB is over the {MAX_FILE_BYTES // 2**20} MB limit; split it")
        data = path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"{name}: cannot be read ({exc.strerror}); check its permissions") from None
    # the key of the text as read: the file's bytes and how they are read (a new reading is a new text and outline,
    # stored beside the old ones until the index run that makes its chunks commits them)
    digest = hashlib.sha256(config.READING.encode() + b"\0" + data).hexdigest()
    warnings: list[str] = []
    try:
        if kind == "txt":
            text = _decode_text(name, data, warnings)
            blocks = find_blocks(text, markdown=Path(name).suffix.lower() in MARKDOWN)
            title, date = _first_heading(text, blocks), find_date(text)
        else:
            pieces, title, date = _read_structured(kind, name, data, warnings)
            text, blocks = assemble(pieces)
    except BadInputError:
        raise
    except Exception as exc:  # parsers raise many types on corrupt input; all mean the same to a user
        raise BadInputError(f"{name}: cannot be parsed as {kind} ({type(exc).__name__}); is the file corrupt?") from None
    if not text.strip():
        raise BadInputError(f"{name}: contains no text to index" + (" (a scanned pdf needs OCR first)" if kind == "pdf" else ""))
    return DocumentText(text=text, kind=kind, file_hash=digest, warnings=tuple(warnings), title=title, date=date,
                        blocks=blocks)


def _read_structured(kind: str, name: str, data: bytes, warnings: list[str]) -> tuple[list, str, str]:
    """(kind, text, level) pieces, title and date of an html, pdf or docx file."""
    if kind == "html":
        from rag.read.formats.html_text import read_html

        return read_html(_decode_text(name, data, warnings))
    if kind == "pdf":
        from rag.read.formats.pdf_text import read_pdf

        return read_pdf(io.BytesIO(data))
    from rag.read.formats.docx_text import read_docx

    return read_docx(io.BytesIO(data))


def _first_heading(text: str, blocks: tuple[Block, ...], within: int = 1500) -> str:
    """A plain text's title: its first level-1 heading near the top, else its first heading there, without markup."""
    near = [b for b in blocks if b.kind == "heading" and b.start < within]
    best = next((b for b in near if b.level == 1), near[0] if near else None)
    if best is None:
        return ""
    first_line = text[best.start:best.end].splitlines()[0]
    return first_line.strip().strip("#").strip()


def _decode_text(name: str, data: bytes, warnings: list[str]) -> str:
    if b"\x00" in data[:8192]:
        raise BadInputError(f"{name}: looks like a binary file (NUL bytes), not text; convert it to .txt/.pdf/.docx")
    try:
        return data.decode("utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8")
    except UnicodeDecodeError:
        # Latin-1 maps every byte, so nothing is lost; cp1252 would be closer for Windows files but fails on 5 bytes.
        warnings.append(f"{name}: not valid UTF-8, read as Latin-1; save it as UTF-8 for exact quotes")
        return data.decode("latin-1")
