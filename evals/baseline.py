"""The baseline: what a typical user builds from llama-index's starter recipe, with our model and embeddings.

SimpleDirectoryReader(seeds) (plain text extraction for PDF, DOCX and HTML: plain_extraction) -> VectorStoreIndex on a
throw-away Chroma collection (default splitter) -> CitationQueryEngine(similarity_top_k=3) -> the bundled GGUF
through llama-index's LlamaCPP wrapper (ChatML prompts, greedy decoding like ours). Its answers are mapped to our
record so that the same metrics score both.

Example: StarterPipeline(settings, embedder).ask("Who did Blinken meet?", []) ->
  {"answer": "Blinken met Xi Jinping [Source 2].", "refused": false, "citations": [{"source": "003_...txt",
   "quote": <the cited chunk>, "start": 1180, "end": 3320}], "retrieved": [...], "grounding": null, ...}
The mapping is as generous as a phrase match allows: "[2]", "[Source 2]", "[Sources 1 and 2]" all count as
citations; an answer is a refusal when it says so in a common phrase (REFUSAL_PHRASES).
"""

from __future__ import annotations

import re
import time
import uuid
from functools import cached_property
from pathlib import Path

from rag.answer.cite import MARKER
from rag.config import Settings
from rag.errors import RagError
from rag.generate.models import gguf_path
from rag.read.readers import is_supported, read_document, reader_kind

TOP_K = 3
CHATML_SYSTEM = "You are a helpful assistant."
REFUSAL_PHRASES = re.compile(
    r"\b(?:not mentioned|no mention|no information|not provided|not specified|not stated|not available|cannot"
    r"|can't|unable to|don't know|do not know|not in the (?:context|sources|documents|given)"
    r"|(?:does|do|did) not (?:mention|provide|contain|say|specify|state|include|give|indicate|offer))\b", re.I)
_LABEL = re.compile(r"^Source \d+:\n")


def messages_to_prompt(messages) -> str:
    """llama-index chat messages as a Qwen ChatML prompt (the wrapper's default is Llama-2's format)."""
    turns = "".join(f"<|im_start|>{message.role.value}\n{message.content}<|im_end|>\n" for message in messages)
    if not turns.startswith("<|im_start|>system"):
        turns = f"<|im_start|>system\n{CHATML_SYSTEM}<|im_end|>\n" + turns
    return turns + "<|im_start|>assistant\n"


def completion_to_prompt(completion: str) -> str:
    return (f"<|im_start|>system\n{CHATML_SYSTEM}<|im_end|>\n<|im_start|>user\n{completion}<|im_end|>\n"
            "<|im_start|>assistant\n")


def is_refusal(answer: str) -> bool:
    """Example: is_refusal("The context does not mention the date.") -> True; is_refusal("On June 18 [1].") -> False"""
    return not answer.strip() or bool(REFUSAL_PHRASES.search(answer))


def cited_numbers(answer: str) -> list[int]:
    """Example: cited_numbers("Burns [Source 2]. Xi [1, 3] and [Source 2].") -> [2, 1, 3]"""
    return list(dict.fromkeys(int(n) for match in MARKER.finditer(answer) for n in re.findall(r"\d+", match.group(1))))


def plain_extraction(path: Path) -> str:
    """The text a starter user gets from a PDF, DOCX or HTML file: pypdf's extract_text per page, python-docx's
    paragraphs, lxml's text_content. llama-index's own file readers (llama-index-readers-file) need pypdf < 7 and do
    not install beside our pins, and without them SimpleDirectoryReader reads these files' raw bytes as text."""
    if path.suffix.lower() == ".pdf":
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)
    if path.suffix.lower() == ".docx":
        import docx

        return "\n".join(paragraph.text for paragraph in docx.Document(str(path)).paragraphs)
    import lxml.html

    return lxml.html.fromstring(path.read_bytes()).text_content()


def starter_documents(folder: Path, directory_reader) -> list:
    """The recipe's documents: SimpleDirectoryReader for text and Markdown, plain extraction for the other supported
    types; files of other types (licences, sources lists) are left out, as our index leaves them out."""
    from llama_index.core import Document

    paths = sorted(p for p in folder.rglob("*") if p.is_file() and is_supported(p))
    texts = [p for p in paths if reader_kind(p.name) == "txt"]
    documents = directory_reader(input_files=[str(p) for p in texts]).load_data() if texts else []
    for path in paths:
        if reader_kind(path.name) != "txt":
            documents.append(Document(text=plain_extraction(path), metadata={"file_path": str(path), "file_name": path.name}))
    return documents


class StarterPipeline:
    def __init__(self, settings: Settings, embedder):
        self.settings = settings
        self.embedder = embedder
        self.prompts: list[str] = []  # every prompt the wrapper formats, to count its tokens
        self._texts: dict[str, str] = {}

    @cached_property
    def llm(self):
        from llama_index.llms.llama_cpp import LlamaCPP

        def record_prompt(completion: str) -> str:
            self.prompts.append(completion_to_prompt(completion))
            return self.prompts[-1]

        return LlamaCPP(model_path=str(gguf_path(self.settings.model, self.settings.cache_dir)), temperature=0.0,
                        max_new_tokens=self.settings.max_tokens, context_window=self.settings.n_ctx,
                        generate_kwargs={"stop": ["<|im_end|>"], "top_k": 1, "seed": 0},
                        model_kwargs={"n_gpu_layers": 0, "n_threads": self.settings.n_threads,
                                      "n_threads_batch": self.settings.n_threads, "seed": 0},
                        messages_to_prompt=messages_to_prompt, completion_to_prompt=record_prompt, verbose=False)

    @cached_property
    def query_engine(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
        from llama_index.core.query_engine import CitationQueryEngine
        from llama_index.vector_stores.chroma import ChromaVectorStore

        documents = starter_documents(Path(self.settings.seeds_dir), SimpleDirectoryReader)
        client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
        collection = client.create_collection(f"baseline-{uuid.uuid4().hex[:12]}")  # never the app's store
        storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
        index = VectorStoreIndex.from_documents(documents, storage_context=storage, embed_model=self.embedder)
        return CitationQueryEngine.from_args(index, llm=self.llm, similarity_top_k=TOP_K, streaming=True)

    def source_name(self, node) -> str:
        path = Path(node.metadata.get("file_path", node.metadata.get("file_name", "")))
        try:
            return path.resolve().relative_to(Path(self.settings.seeds_dir).resolve()).as_posix()
        except ValueError:
            return path.name

    def ask(self, question: str, history: list[dict]) -> dict:
        """One answer as our record. The recipe has no chat memory: a follow-up is sent joined to the last user
        turn, the same no-LLM rewrite the retrieval-only pass uses."""
        earlier = [turn["content"] for turn in history if turn.get("role") == "user"]
        query = f"{earlier[-1]} {question}" if earlier else question
        engine = self.query_engine
        self.prompts.clear()
        began, ttft = time.perf_counter(), None
        response = engine.query(query)
        pieces = []
        for delta in response.response_gen:
            if ttft is None and delta:
                ttft = time.perf_counter() - began
            pieces.append(delta)
        total = time.perf_counter() - began
        answer = "".join(pieces).strip()
        nodes = response.source_nodes
        citations = [self.citation(nodes[n - 1]) for n in cited_numbers(answer) if 1 <= n <= len(nodes)]
        return {"answer": answer, "refused": is_refusal(answer), "citations": citations,
                "retrieved": list(dict.fromkeys(self.source_name(n.node) for n in nodes)),
                "standalone_question": query, "grounding": None,
                "prompt_tokens": sum(len(self.llm._model.tokenize(p.encode(), special=True)) for p in self.prompts),
                "ttft_s": None if ttft is None else round(ttft, 3), "total_s": round(total, 3)}

    def citation(self, node_with_score) -> dict:
        """The cited chunk as a quote. The engine drops the chunk's offsets, so they are recovered by finding the
        quote in the document; a quote the splitter altered is not found and gets no offsets (not exact)."""
        node = node_with_score.node
        quote = _LABEL.sub("", node.get_content()).rstrip("\n")
        source = self.source_name(node)
        if source not in self._texts:
            try:
                self._texts[source] = read_document(Path(self.settings.seeds_dir) / source).text
            except RagError:  # unreadable now: the quote stays unlocated
                self._texts[source] = ""
        at = self._texts[source].find(quote) if quote else -1
        start, end = (at, at + len(quote)) if at >= 0 else (None, None)
        return {"source": source, "quote": quote, "start": start, "end": end}
