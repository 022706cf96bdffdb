"""`python -m rag index`: bring the store in line with the documents folder, re-embedding only what changed.

Example: index_folder(settings, store, lambda: embedder) ->
  IndexSummary(added=5, updated=0, removed=0, unchanged=0, chunks_added=61, skipped=["notes.xyz: unsupported type"])
A second run on unchanged documents embeds nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rag.config import Settings
from rag.errors import BadInputError, RagError, StoreUnavailableError
from rag.indexing.store import ChunkStore, FileVersion
from rag.read.chunking import chunk_spans, embedding_text
from rag.read.outline import Outline, outline
from rag.read.readers import DocumentText, is_supported, read_document

EMBED_BATCH = 32
COMMIT_CHUNKS = 256  # chunks embedded between commits: an interruption re-embeds at most this many (docs/decisions.md)


@dataclass
class IndexSummary:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def describe(self) -> str:
        lines = [f"files: {self.added} added, {self.updated} updated, {self.removed} removed, {self.unchanged} unchanged; "
                 f"chunks: {self.chunks_added} added, {self.chunks_removed} removed; {self.seconds:.1f} s"]
        lines += [f"skipped {reason}" for reason in self.skipped]
        lines += [f"warning: {text}" for text in self.warnings]
        return "\n".join(lines)


def source_name(path: Path, root: Path) -> str:
    """The name a file is known by: its path relative to the documents folder, with forward slashes."""
    return path.relative_to(root).as_posix()


def scan(root: Path) -> tuple[dict[str, Path], list[str]]:
    """Supported files under root by source name, and a reason for each file left out."""
    found: dict[str, Path] = {}
    skipped: list[str] = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if is_supported(path):
            found[source_name(path, root)] = path
        else:
            skipped.append(f"{rel.as_posix()}: unsupported type {path.suffix or '(none)'}")
    return found, skipped


@contextmanager
def index_lock(index_dir: Path) -> Iterator[None]:
    """One index run at a time per index folder; a second one fails fast instead of interleaving writes."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = open(index_dir / ".index.lock", "w")
    except OSError as exc:
        raise StoreUnavailableError(f"Cannot write to the index folder {index_dir} ({exc.strerror}); make it writable, "
                                    f"or set RAG_INDEX_DIR to a writable folder") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RagError(f"Another `index` run is using {index_dir}; wait for it to finish and retry") from None
        yield


METADATA = ["source", "start", "end", "file_hash", "chunk_hash", "kind", "title", "section", "date"]


def make_nodes(source: str, doc: DocumentText, settings: Settings, shape: Outline) -> list:
    """Chunk nodes (not yet embedded) whose text is the verbatim slice doc.text[start:end], each carrying the
    document's title and date and the section it starts in (for indexes whose outlines are not at hand)."""
    from llama_index.core.schema import TextNode

    nodes = []
    for number, (start, end) in enumerate(chunk_spans(doc.text, settings.chunk_size, settings.chunk_overlap)):
        node_id = hashlib.sha256(f"{source}\0{doc.file_hash}\0{settings.chunking}\0{number}".encode()).hexdigest()[:32]
        nodes.append(TextNode(
            id_=node_id, text=doc.text[start:end],
            metadata={"source": source, "start": start, "end": end, "file_hash": doc.file_hash,
                      "chunk_hash": hashlib.sha256(doc.text[start:end].encode()).hexdigest()[:16], "kind": doc.kind,
                      "title": shape.title, "section": shape.section_at(start), "date": shape.date},
            excluded_embed_metadata_keys=METADATA, excluded_llm_metadata_keys=METADATA,
        ))
    return nodes


def embed_nodes(nodes: list, embedder, bar) -> None:
    """Embed the normalised text of each node in batches, advancing the run's progress bar."""
    for at in range(0, len(nodes), EMBED_BATCH):
        batch = nodes[at:at + EMBED_BATCH]
        vectors = embedder.get_text_embedding_batch([embedding_text(node.text) for node in batch])
        for node, vector in zip(batch, vectors):
            node.embedding = vector
        bar.update(len(batch))


def commit_groups(pending: list[FileVersion]) -> Iterator[list[FileVersion]]:
    """Consecutive files holding at least COMMIT_CHUNKS chunks together (the last group may hold fewer)."""
    group: list[FileVersion] = []
    for version in pending:
        group.append(version)
        if sum(len(v.nodes) for v in group) >= COMMIT_CHUNKS:
            yield group
            group = []
    if group:
        yield group


def _commit(pending: list[FileVersion], removed: list[str], known: dict, store: ChunkStore, embedder: Callable[[], object],
            summary: IndexSummary, progress: bool) -> None:
    """Embed and store the pending files group by group, then drop the removed ones, counting into summary."""
    from tqdm import tqdm

    total = sum(len(version.nodes) for version in pending)
    with tqdm(total=total, desc="embedding", unit="chunk", disable=not progress or not total) as bar:
        # files are committed in groups as soon as they are embedded: an interrupted run keeps the finished groups
        for group in commit_groups(pending):
            embed_nodes([node for version in group for node in version.nodes], embedder(), bar)
            with store.writing():
                store.put_files(group)
            for version in group:
                is_update = version.source in known
                summary.chunks_added += len(version.nodes)
                summary.chunks_removed += known[version.source].chunks if is_update else 0
                summary.updated += is_update
                summary.added += not is_update
                # committed: let go of its vectors and text, or a big run holds them all until it ends
                version.nodes, version.text, version.outline = [], "", ""
    for source in removed:
        with store.writing():
            store.remove_file(source)
        summary.removed += 1
        summary.chunks_removed += known[source].chunks


def index_folder(settings: Settings, store: ChunkStore, embedder: Callable[[], object], progress: bool = True) -> IndexSummary:
    """Add new, re-embed changed and drop deleted files of settings.seeds_dir; see the module docstring.

    `embedder()` returns the embedding model; it is called only when something needs embedding, so a run with
    nothing to do, or a store that cannot be opened, is reported without waiting seconds for the model to load.
    """
    from tqdm import tqdm

    root = Path(settings.seeds_dir)
    if not root.is_dir():
        raise BadInputError(f"Documents folder {root} does not exist; create it and put .txt/.md/.html/.pdf/.docx files in it")
    began = time.perf_counter()
    summary = IndexSummary()
    with index_lock(Path(settings.index_dir)):
        with store.writing():
            store.repair()
        files, summary.skipped = scan(root)
        known = store.manifest()
        pending: list[FileVersion] = []
        for source, path in tqdm(files.items(), desc="reading", unit="file", disable=not progress or len(files) < 100):
            try:
                doc = read_document(path)
            except BadInputError as exc:
                summary.skipped.append(str(exc))
                continue
            summary.warnings.extend(doc.warnings)
            record = known.get(source)
            if record and record.file_hash == doc.file_hash and record.chunking == settings.chunking:
                summary.unchanged += 1
                continue
            shape = outline(doc)
            pending.append(FileVersion(source, doc.text, doc.file_hash, doc.kind, make_nodes(source, doc, settings, shape),
                                       shape.to_json()))
        removed = sorted(set(known) - set(files))
        if pending or removed:
            with store.changing():
                _commit(pending, removed, known, store, embedder, summary, progress)
                with store.writing():
                    store.repair()  # drop texts no file version uses any more
    summary.seconds = time.perf_counter() - began
    return summary
