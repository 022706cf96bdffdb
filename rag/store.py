"""The Chroma store: chunk vectors plus one record per indexed file, embedded (under index/) or on a Chroma server.

Example: store = ChunkStore(settings); store.manifest() -> {"a.txt": FileRecord(file_hash="9f2c...", chunks=4, ...)}
A file's update commits in this order -- new chunks, then its file record, then old chunks removed -- so a crash at
any point leaves the previous or the new version answerable; repair() drops what a crash left half-done.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from rag.config import Settings
from rag.errors import IndexMissingError, RagError, StoreUnavailableError

_PLACEHOLDER_VECTOR = [0.0]  # file records carry no meaning in vector space; Chroma still wants an embedding
SERVER_PROBE_S = 2.0  # chromadb's HttpClient has no timeout at all: a hung server would hang us forever
LOW_DISK_BYTES = 64 * 2**20  # a write failing with less free space than this is reported as a full disk


@dataclass(frozen=True)
class FileRecord:
    source: str
    file_hash: str
    kind: str
    chunks: int
    chunking: str  # "size/overlap" the chunks were cut with; a change re-indexes the file


def is_committed(metadata: dict, committed: set[tuple[str, str]]) -> bool:
    """True for a chunk of a recorded file version. A crash between a file's new chunks and its record leaves chunks
    of an unrecorded version (until the next index run repairs it); searches skip them, so they see the old version
    or the new one, never both. A chunk deleted by another process can also come back from a stale vector index
    with no metadata at all."""
    return (metadata.get("source"), metadata.get("file_hash")) in committed


class ChunkStore:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.texts_dir = Path(settings.index_dir) / "texts"

    @cached_property
    def client(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if self.settings.uses_chroma_server:
                self._probe_server()
                client = chromadb.HttpClient(host=self.settings.chroma_host, port=self.settings.chroma_port,
                                             settings=chroma_settings)
                client.heartbeat()
                return client
            path = Path(self.settings.index_dir) / "chroma"
            path.mkdir(parents=True, exist_ok=True)
            if not os.access(path, os.W_OK):  # Chroma writes even to answer a query: say so before it fails obscurely
                raise StoreUnavailableError(
                    f"The index folder {self.settings.index_dir} is read-only; Chroma needs to write to it even to "
                    f"answer. Make it writable, or set RAG_INDEX_DIR to a writable copy of it")
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        except StoreUnavailableError:
            raise
        except Exception as exc:
            where = (f"Chroma server at {self.settings.chroma_host}:{self.settings.chroma_port}"
                     if self.settings.uses_chroma_server else f"Chroma store in {self.settings.index_dir}")
            hint = ("start it with: chroma run --path DIR --host HOST --port PORT, or unset RAG_CHROMA_HOST"
                    if self.settings.uses_chroma_server else "check the folder is writable and not corrupt")
            raise StoreUnavailableError(f"Cannot open the {where} ({type(exc).__name__}: {exc}); {hint}") from None

    def _probe_server(self) -> None:
        import httpx

        url = f"http://{self.settings.chroma_host}:{self.settings.chroma_port}/api/v2/heartbeat"
        try:
            httpx.get(url, timeout=SERVER_PROBE_S).raise_for_status()
        except httpx.HTTPError as exc:
            raise StoreUnavailableError(
                f"The Chroma server at {self.settings.chroma_host}:{self.settings.chroma_port} does not answer "
                f"({type(exc).__name__}: {exc or 'no reply'}); start it with: chroma run --path DIR --host HOST "
                f"--port PORT, or unset RAG_CHROMA_HOST to use the embedded store") from None

    def reopen(self) -> None:
        """Drop the open client so the next use reads the store afresh from disk.

        Chroma's embedded client keeps its vector index in memory: after another process (a `python -m rag index`
        run while the chat window is up) changed the store, this process would miss the new chunks and get deleted
        ones back without their metadata. A server client has no such copy and is kept.
        """
        if self.settings.uses_chroma_server or "client" not in self.__dict__:
            return
        client = self.__dict__.pop("client")
        for name in ("chunks", "files", "vector_store"):
            self.__dict__.pop(name, None)
        client.close()

    @cached_property
    def chunks(self):
        return self.client.get_or_create_collection(self.settings.collection, metadata={"hnsw:space": "cosine"})

    @cached_property
    def files(self):
        return self.client.get_or_create_collection(self.settings.collection + "_files")

    @cached_property
    def vector_store(self):
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=self.chunks)

    # ---- reading -------------------------------------------------------------------------------------------------
    def manifest(self) -> dict[str, FileRecord]:
        got = self.files.get(include=["metadatas"])
        return {
            source: FileRecord(source, meta["file_hash"], meta["kind"], int(meta["chunks"]), str(meta.get("chunking", "")))
            for source, meta in zip(got["ids"], got["metadatas"])
        }

    def version(self) -> str:
        """Changes whenever any file is added, changed or removed (used to validate derived indexes such as BM25)."""
        items = sorted((record.source, record.file_hash) for record in self.manifest().values())
        return hashlib.sha256(json.dumps([self.settings.chunking, items])
                              .encode()).hexdigest()[:16]

    def require_index(self) -> None:
        if not self.manifest():
            raise IndexMissingError(f"The index is empty: put documents in {self.settings.seeds_dir}/ and run "
                                    f"`python -m rag index`")

    def committed(self) -> set[tuple[str, str]]:
        """(source, file_hash) of every recorded file version: the chunks a search may return."""
        return {(record.source, record.file_hash) for record in self.manifest().values()}

    def nodes(self) -> list:
        """Every committed chunk as a llama-index TextNode (for keyword indexing); see is_committed."""
        if self.chunks.count() == 0:
            return []
        committed = self.committed()
        return [node for node in self.vector_store.get_nodes(node_ids=None) if is_committed(node.metadata, committed)]

    def document_text(self, file_hash: str) -> str:
        """The text as read (or extracted) that a chunk's start/end offsets index."""
        return (self.texts_dir / f"{file_hash}.txt").read_text(encoding="utf-8")

    # ---- writing -------------------------------------------------------------------------------------------------
    def put_file(self, source: str, text: str, file_hash: str, kind: str, nodes: list) -> None:
        """Store a file's text and embedded chunk nodes, replacing any older version of the same source."""
        self.texts_dir.mkdir(parents=True, exist_ok=True)
        text_path = self.texts_dir / f"{file_hash}.txt"
        if not text_path.exists():
            partial = text_path.with_suffix(".partial")
            partial.write_text(text, encoding="utf-8")
            partial.replace(text_path)
        new_ids = [node.node_id for node in nodes]
        if new_ids:  # leftovers of an interrupted attempt at this same version would collide with the new ids
            self.chunks.delete(ids=new_ids)
            # llama-index's ChromaVectorStore sends up to 41,665 nodes at once, but the embedded Chroma takes at most
            # get_max_batch_size() (5,461): a text file over ~2.5 MB would fail without this split
            step = self.client.get_max_batch_size()
            for at in range(0, len(nodes), step):
                self.vector_store.add(nodes[at:at + step])
        self.files.upsert(ids=[source], embeddings=[_PLACEHOLDER_VECTOR],
                          metadatas=[{"file_hash": file_hash, "kind": kind, "chunks": len(nodes),
                                      "chunking": self.settings.chunking}])
        old_ids = set(self.chunks.get(where={"source": source}, include=[])["ids"]) - set(new_ids)
        if old_ids:
            self.chunks.delete(ids=sorted(old_ids))

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Turn a failed write into one line saying why: a full disk, a read-only folder, or the store's own error."""
        try:
            yield
        except RagError:
            raise
        except Exception as exc:
            raise StoreUnavailableError(self._write_failure(exc)) from None

    def _write_failure(self, exc: Exception) -> str:
        where = (f"the Chroma server at {self.settings.chroma_host}:{self.settings.chroma_port}"
                 if self.settings.uses_chroma_server else f"the index in {self.settings.index_dir}")
        what = f"Writing to {where} failed ({type(exc).__name__}: {str(exc)[:200]})"
        code = getattr(exc, "errno", None)
        folder = Path(self.settings.index_dir)
        free = shutil.disk_usage(folder if folder.exists() else Path.cwd()).free
        # Chroma's own error for a full disk names no cause ("Failed to apply logs to the metadata segment"),
        # so the free space decides
        if code == errno.ENOSPC or (not self.settings.uses_chroma_server and free < LOW_DISK_BYTES):
            return (f"{what}: the disk is full ({free / 2**20:.0f} MB free). Free some space, then run "
                    f"`python -m rag index` again; the files finished before are kept")
        if code in (errno.EROFS, errno.EACCES, errno.EPERM):
            return f"{what}: the folder is read-only. Make it writable, or set RAG_INDEX_DIR to a writable folder"
        return f"{what}. Run `python -m rag index` again; the files finished before are kept"

    def remove_file(self, source: str) -> None:
        self.files.delete(ids=[source])
        self.chunks.delete(where={"source": source})

    def repair(self) -> int:
        """Delete chunks that belong to no recorded file version (what a crash mid-update leaves); return how many."""
        wanted = {(r.source, r.file_hash) for r in self.manifest().values()}
        got = self.chunks.get(include=["metadatas"])
        stale = [cid for cid, meta in zip(got["ids"], got["metadatas"])
                 if (meta.get("source"), meta.get("file_hash")) not in wanted]
        for at in range(0, len(stale), 5000):
            self.chunks.delete(ids=stale[at:at + 5000])
        keep = {r.file_hash for r in self.manifest().values()}
        if self.texts_dir.is_dir():
            for path in self.texts_dir.glob("*.txt"):
                if path.stem not in keep:
                    path.unlink(missing_ok=True)
        return len(stale)
