"""Documents added and removed from the chat window: checked, then written into (or deleted from) the documents folder.

Example: save_upload(Path("/tmp/gradio/ab12/report.pdf"), "report.pdf", Path("seeds"), 20, indexed={"notes.md"})
           -> Saved(Path("seeds/report.pdf"), "saved report.pdf")
           -> Saved(Path("seeds/report (2).pdf"), "saved report (2).pdf: a different report.pdf is already there, so
              both are kept")                                    (a second, different report.pdf)
           -> Saved(Path("seeds/report.pdf"), "report.pdf: already indexed (the same bytes)", new=False)   (the same one)
           -> Saved(Path("seeds/report.pdf"), "report.pdf: already in the documents folder but not indexed (an earlier
              indexing failed); indexing it")                    (the same one, not in the index)
         safe_upload_name("../../evil.txt") -> BadInputError("../../evil.txt: a file name, not a path, please ...")
Nothing is lost: a file is never replaced by an upload. A file that cannot be indexed (empty, binary, corrupt) is
refused with the reason. The caller re-indexes afterwards when something new was saved; indexing is incremental, so
only the new file is embedded.
"""

from __future__ import annotations

import filecmp
import os
import shutil
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Saved:
    path: Path  # where the upload is (or already was) in the documents folder
    message: str  # what happened, in the window's words
    new: bool = True  # False when the same bytes were already there and indexed: nothing to index


def same_bytes_as(path: Path, folder: Path) -> Path | None:
    """A document in the folder (or its subfolders) with exactly the bytes of path, if there is one."""
    size = path.stat().st_size
    for existing in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if existing.is_file() and not existing.name.startswith(".") and existing.stat().st_size == size \
                and filecmp.cmp(existing, path, shallow=False):
            return existing
    return None


def free_names(name: str):
    """name, then "stem (2).suffix", "stem (3).suffix", ... each short enough to be a safe upload name."""
    yield name
    stem, suffix = os.path.splitext(name)
    for n in range(2, 10_000):
        tail = f" ({n}){suffix}"
        yield stem[:MAX_NAME_CHARS - len(tail)] + tail


def save_upload(path: Path, name: str, folder: Path, max_mb: int, indexed: set[str] | frozenset[str] = frozenset()) -> Saved:
    """Copy an uploaded file into the documents folder under its checked name, or under a free name such as
    "report (2).pdf" when a different file has that name; the same bytes uploaded again are not copied. indexed: the
    index's sources (paths relative to folder), so a copy that is in the folder but not indexed is indexed."""
    name = safe_upload_name(name)
    size = path.stat().st_size
    if size > max_mb * 2**20:
        raise BadInputError(f"{name}: {size / 2**20:.1f} MB is over the {max_mb} MB upload limit (RAG_UPLOAD_MAX_MB)")
    # what indexing would skip (empty, binary, corrupt) is refused now, rather than kept in the folder where it would
    # be reported at every index run and could not be removed from the window (it is not in the index)
    read_document(path, name)
    if (twin := same_bytes_as(path, folder)) is not None:
        source = twin.relative_to(folder).as_posix()
        where = "" if twin.name == name else f" as {source}"
        if source in indexed:
            return Saved(twin, f"{name}: already indexed{where} (the same bytes)", new=False)
        return Saved(twin, f"{name}: already in the documents folder{where} but not indexed (an earlier indexing "
                           f"failed); indexing it")
    partial = folder / f".{name}.partial"  # hidden until complete, so an index run never reads half a file
    try:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, partial)
        target = _claim_free_name(partial, folder, name)
    except OSError as exc:
        raise RagError(f"{name}: cannot be saved in {folder} ({exc.strerror}); free some disk space or make the folder "
                       f"writable, then upload it again") from None
    finally:
        partial.unlink(missing_ok=True)
    if target.name == name:
        return Saved(target, f"saved {name}")
    return Saved(target, f"saved {target.name}: a different {name} is already there, so both are kept")


def _claim_free_name(partial: Path, folder: Path, name: str) -> Path:
    """Link the complete copy under the first free name. A hard link fails when the name is taken, so two uploads at
    once can never take the same name, and no file is ever replaced."""
    for candidate in free_names(name):
        target = folder / candidate
        try:
            os.link(partial, target)
            return target
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links: uploads take turns in the window (concurrency_id)
            if target.exists():
                continue
            partial.rename(target)
            return target
    raise RagError(f"{name}: every variant of this name is taken in {folder}; rename the file and upload it again")


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
