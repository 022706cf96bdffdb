"""Documents added and removed from the chat window: checked, then written into (or deleted from) the documents folder.

Example: save_upload(Path("/tmp/gradio/ab12/notes.txt"), "notes.txt", Path("seeds"), 20) -> Path("seeds/notes.txt")
         safe_upload_name("../../evil.txt") -> BadInputError("../../evil.txt: a file name, not a path, please ...")
A file that cannot be indexed (empty, binary, corrupt) is refused with the reason. The caller re-indexes afterwards;
indexing is incremental, so only the new or changed file is embedded.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rag.errors import BadInputError, RagError
from rag.read.readers import read_document, reader_kind

MAX_NAME_CHARS = 200


def safe_upload_name(name: str) -> str:
    """The name a file may be saved under in the documents folder; BadInputError says why a name is refused."""
    if not name or len(name) > MAX_NAME_CHARS:
        raise BadInputError(f"{name[:40]!r}: the file name must be 1 to {MAX_NAME_CHARS} characters")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise BadInputError(f"{name}: a file name, not a path, please; rename the file and upload it again")
    if name.startswith("."):
        raise BadInputError(f"{name}: hidden files (name starting with '.') are not indexed; rename it")
    if not all(ch.isprintable() for ch in name):
        raise BadInputError(f"{name!r}: the file name has control characters; rename it")
    reader_kind(name)
    return name


def save_upload(path: Path, name: str, folder: Path, max_mb: int) -> Path:
    """Copy an uploaded file into the documents folder under its checked name (replacing a file of that name)."""
    name = safe_upload_name(name)
    size = path.stat().st_size
    if size > max_mb * 2**20:
        raise BadInputError(f"{name}: {size / 2**20:.1f} MB is over the {max_mb} MB upload limit (RAG_UPLOAD_MAX_MB)")
    # what indexing would skip (empty, binary, corrupt) is refused now, rather than kept in the folder where it would
    # be reported at every index run and could not be removed from the window (it is not in the index)
    read_document(path, name)
    target = folder / name
    partial = folder / f".{name}.partial"  # hidden until complete, so an index run never reads half a file
    try:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, partial)
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise RagError(f"{name}: cannot be saved in {folder} ({exc.strerror}); free some disk space or make the folder "
                       f"writable, then upload it again") from None
    return target


def remove_document(source: str, folder: Path, indexed: set[str]) -> Path:
    """Delete an indexed document's file from the documents folder (the caller re-indexes to drop its chunks)."""
    if source not in indexed:
        raise BadInputError(f"{source}: not in the index; pick a document from the list")
    root = folder.resolve()
    target = (folder / source).resolve()
    if root not in target.parents:
        raise BadInputError(f"{source}: is not inside the documents folder {folder}")
    target.unlink(missing_ok=True)
    return target
