"""Read a document file into the text that all offsets refer to.

Example: read_document(Path("seeds/a.txt")) -> DocumentText(text=<the UTF-8 file as read>, kind="txt", ...)
For txt/md the text is the file itself; for html/pdf/docx it is the extracted text (stored beside the index so
that every citation's start:end can be checked against it).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import BadInputError

READERS = {".txt": "txt", ".md": "txt", ".markdown": "txt", ".html": "html", ".htm": "html", ".pdf": "pdf",
           ".docx": "docx"}
MAX_FILE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class DocumentText:
    text: str
    kind: str  # txt | html | pdf | docx
    file_hash: str  # sha256 of the file's bytes
    warnings: tuple[str, ...] = field(default=())

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
    digest = hashlib.sha256(data).hexdigest()
    warnings: list[str] = []
    try:
        if kind == "txt":
            text = _decode_text(name, data, warnings)
        elif kind == "html":
            text = _html_text(_decode_text(name, data, warnings))
        elif kind == "pdf":
            text = _pdf_text(data)
        else:
            text = _docx_text(data)
    except BadInputError:
        raise
    except Exception as exc:  # parsers raise many types on corrupt input; all mean the same to a user
        raise BadInputError(f"{name}: cannot be parsed as {kind} ({type(exc).__name__}); is the file corrupt?") from None
    if not text.strip():
        raise BadInputError(f"{name}: contains no text to index" + (" (a scanned pdf needs OCR first)" if kind == "pdf" else ""))
    return DocumentText(text=text, kind=kind, file_hash=digest, warnings=tuple(warnings))


def _decode_text(name: str, data: bytes, warnings: list[str]) -> str:
    if b"\x00" in data[:8192]:
        raise BadInputError(f"{name}: looks like a binary file (NUL bytes), not text; convert it to .txt/.pdf/.docx")
    try:
        return data.decode("utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8")
    except UnicodeDecodeError:
        # Latin-1 maps every byte, so nothing is lost; cp1252 would be closer for Windows files but fails on 5 bytes.
        warnings.append(f"{name}: not valid UTF-8, read as Latin-1; save it as UTF-8 for exact quotes")
        return data.decode("latin-1")


def _html_text(markup: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    return soup.get_text("\n")


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return "\n\n".join(page.extract_text() or "" for page in reader.pages)


def _docx_text(data: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(data))
    return "\n\n".join(paragraph.text for paragraph in document.paragraphs)
