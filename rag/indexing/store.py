"""The Chroma store: chunk vectors plus one record per indexed file, embedded (under index/) or on a Chroma server.

Example: store = ChunkStore(settings); store.manifest() -> {"a.txt": FileRecord(file_hash="9f2c...", chunks=4, ...)}
A group of files commits in this order -- new chunks, then their file records, then old chunks removed -- so a crash at
any point leaves the previous or the new version answerable; repair() drops what a crash left half-done.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from rag.config import Settings
from rag.errors import IndexMissingError, RagError, StoreUnavailableError

_VERSION_KEY = "rag_version"  # metadata of the file collection
_PLACEHOLDER_VECTOR = [0.0]  # file records carry no meaning in vector space; Chroma still wants an embedding
SERVER_PROBE_S = 2.0  # chromadb's HttpClient has no timeout at all: a hung server would hang us forever
LOW_DISK_BYTES = 64 * 2**20  # a write failing with less free space than this is reported as a full disk
# SQLite allows 32,766 bound variables and Chroma binds one per id asked for and per record returned with metadata:
# reads of many records go in pages (docs/decisions.md, "Reads in pages").
READ_PAGE = 10_000


@dataclass(frozen=True)
class FileRecord:
    source: str
    file_hash: str
    kind: str
    chunks: int
    chunking: str  # "size/overlap/reading" the chunks were cut with (Settings.chunking); a change re-indexes the file


def is_committed(metadata: dict, committed: set[tuple[str, str]]) -> bool:
    """True for a chunk of a recorded file version. A crash between a file's new chunks and its record leaves chunks
    of an unrecorded version (until the next index run repairs it); searches skip them, so they see the old version
    or the new one, never both. A chunk deleted by another process can also come back from a stale vector index
    with no metadata at all."""
    return (metadata.get("source"), metadata.get("file_hash")) in committed


def get_all(collection, ids: list[str] | None = None, **kwargs) -> dict[str, list]:
    """collection.get(ids=..., **kwargs) for any number of records, read in pages of READ_PAGE (see there)."""
    fields = ("ids", *kwargs.get("include", ()))
    merged: dict[str, list] = {key: [] for key in fields}
    at = 0
    while ids is None or at < len(ids):
        if ids is None:
            page = collection.get(limit=READ_PAGE, offset=at, **kwargs)
        else:
            page = collection.get(ids=ids[at:at + READ_PAGE], **kwargs)
        for key in fields:
            merged[key].extend(page[key] or ())
        at += READ_PAGE
        if ids is None and len(page["ids"]) < READ_PAGE:
            break
    return merged


@dataclass
class FileVersion:
    """One file as read, with its chunk nodes (embedded before put_files stores them) and its outline (JSON)."""
    source: str
    text: str
    file_hash: str
    kind: str
    nodes: list
    outline: str = ""


class ChunkStore:
    """`client` may be given (a Chroma client to share or wrap); by default it is opened from the settings on first use."""

    def __init__(self, settings: Settings, client=None):
        self.settings = settings
        self.texts_dir = Path(settings.index_dir) / "texts"
        self._client = client
        self._owns_client = client is None  # a client given by the caller is the caller's to reopen or close
        self._committed: tuple[str, set[tuple[str, str]]] | None = None  # (version token, committed()) last read

    @property
    def client(self):
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self):
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
        if self.settings.uses_chroma_server or self._client is None or not self._owns_client:
            return
        client, self._client = self._client, None
        for name in ("chunks", "files", "vector_store"):
            self.__dict__.pop(name, None)  # the collections opened through the old client
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
        got = get_all(self.files, include=["metadatas"])
        return {
            source: FileRecord(source, meta["file_hash"], meta["kind"], int(meta["chunks"]), str(meta.get("chunking", "")))
            for source, meta in zip(got["ids"], got["metadatas"])
        }

    def version(self) -> str:
        """A token that changes whenever chunks are added or removed (used to validate derived indexes such as BM25).

        Read per question, so it is one small lookup whatever the corpus size, not a hash of the file list
        (docs/decisions.md). Empty for a store no write of this code has touched yet.
        """
        metadata = self.client.get_collection(self.files.name).metadata or {}
        return str(metadata.get(_VERSION_KEY, ""))

    @contextmanager
    def changing(self) -> Iterator[None]:
        """Wrap a run of writes: the version changes as it starts and again as it ends (an exception included).

        Not per write: a process answering while another indexes rebuilds BM25 at most once during the run, instead
        of once per commit. A run killed outright leaves the first token, so BM25 built mid-run stays stale until
        the next index run, which is also what resumes the killed one.
        """
        with self.writing():
            self.files.modify(metadata={_VERSION_KEY: uuid.uuid4().hex})
        try:
            yield
        finally:
            with self.writing():
                self.files.modify(metadata={_VERSION_KEY: uuid.uuid4().hex})

    def require_index(self) -> None:
        if self.files.count() == 0:
            raise IndexMissingError(f"The index is empty: put documents in {self.settings.seeds_dir}/ and run "
                                    f"`python -m rag index`")

    def committed(self, refresh: bool = False) -> set[tuple[str, str]]:
        """(source, file_hash) of every recorded file version: the chunks a search may return.

        Asked per question, so the file list is re-read only when the version token changed or the caller saw a
        chunk the last read did not know (refresh=True: another process committed files during its run, between the
        tokens): reading it grows with the number of files (see version()).
        """
        version = self.version()
        if refresh or self._committed is None or self._committed[0] != version:
            self._committed = (version, {(record.source, record.file_hash) for record in self.manifest().values()})
        return self._committed[1]

    def nodes(self) -> list:
        """Every committed chunk as a llama-index TextNode (for keyword indexing); see is_committed."""
        if self.chunks.count() == 0:
            return []
        from llama_index.core.vector_stores.utils import metadata_dict_to_node

        committed = self.committed()
        # what ChromaVectorStore.get_nodes does, read in pages (it asks for every record at once: see READ_PAGE)
        got = get_all(self.chunks, include=["documents", "metadatas"])
        return [metadata_dict_to_node(meta, text=text) for text, meta in zip(got["documents"], got["metadatas"])
                if is_committed(meta, committed)]

    def document_text(self, file_hash: str) -> str:
        """The text as read (or extracted) that a chunk's start/end offsets index."""
        return (self.texts_dir / f"{file_hash}.txt").read_text(encoding="utf-8")

    def document_outline(self, file_hash: str) -> str:
        """The outline (rag.read.outline, JSON) stored with the text; OSError when there is none (an older index)."""
        return (self.texts_dir / f"{file_hash}.outline.json").read_text(encoding="utf-8")

    # ---- writing -------------------------------------------------------------------------------------------------
    def put_files(self, versions: list[FileVersion]) -> None:
        """Store files' texts and embedded chunk nodes, replacing any older versions of the same sources.

        Call it (and remove_file) inside `with store.changing():`, so that derived indexes see the change.
        One write per step for the whole group, not per file: a Chroma write has a fixed cost whatever its size
        (docs/decisions.md, "One Chroma write per step").
        """
        self.texts_dir.mkdir(parents=True, exist_ok=True)
        for version in versions:
            for path, content in ((self.texts_dir / f"{version.file_hash}.outline.json", version.outline),
                                  (self.texts_dir / f"{version.file_hash}.txt", version.text)):
                if content and not path.exists():  # the text last: its presence says both are complete
                    partial = path.with_name(path.name + ".partial")
                    partial.write_text(content, encoding="utf-8")
                    partial.replace(path)
        nodes = [node for version in versions for node in version.nodes]
        new_ids = [node.node_id for node in nodes]
        if new_ids:  # leftovers of an interrupted attempt at these same versions would collide with the new ids
            leftovers = get_all(self.chunks, ids=new_ids, include=[])["ids"]
            if leftovers:
                self.chunks.delete(ids=leftovers)
            # llama-index's ChromaVectorStore sends up to 41,665 nodes at once, but the embedded Chroma takes at most
            # get_max_batch_size() (5,461): a text file over ~2.5 MB would fail without this split
            step = self.client.get_max_batch_size()
            for at in range(0, len(nodes), step):
                self.vector_store.add(nodes[at:at + step])
        self.files.upsert(ids=[v.source for v in versions], embeddings=[_PLACEHOLDER_VECTOR] * len(versions),
                          metadatas=[{"file_hash": v.file_hash, "kind": v.kind, "chunks": len(v.nodes),
                                      "chunking": self.settings.chunking} for v in versions])
        sources = [v.source for v in versions]
        old_ids = set(self.chunks.get(where={"source": {"$in": sources}}, include=[])["ids"]) - set(new_ids)
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
        manifest = self.manifest()
        stale: list[str] = []
        # a crash mid-write only ever leaves extra chunks: when the counts agree, skip reading every chunk's metadata
        # (a read that grows with the corpus, on every index run)
        if self.chunks.count() != sum(record.chunks for record in manifest.values()):
            wanted = {(r.source, r.file_hash) for r in manifest.values()}
            got = get_all(self.chunks, include=["metadatas"])
            stale = [cid for cid, meta in zip(got["ids"], got["metadatas"])
                     if (meta.get("source"), meta.get("file_hash")) not in wanted]
            if stale:
                with self.changing():
                    for at in range(0, len(stale), 5000):
                        self.chunks.delete(ids=stale[at:at + 5000])
        keep = {r.file_hash for r in manifest.values()}
        if self.texts_dir.is_dir():
            for path in self.texts_dir.iterdir():
                if path.name.split(".")[0] not in keep:
                    path.unlink(missing_ok=True)
        return len(stale)
