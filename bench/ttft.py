"""Time to first token and total answer time for the bundled models over a fixed question list.

Usage: python bench/ttft.py [--models default,fast] [--index-dir DIR]
Each model is loaded once and warmed with one question (not counted), as the chat keeps it warm.
Prints p50/p95 TTFT, total time and prompt tokens per model.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.answer import Engine  # noqa: E402
from rag.config import load_settings  # noqa: E402
from rag.llm import load_llm  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402

QUESTIONS = [
    "Why was the February trip called off?",
    "Which US ambassador was with Blinken at the basketball game in Shanghai?",
    "When did Blinken plan to hold meetings in China in June 2023?",
    "Who is the State Department spokesperson mentioned alongside Wang Wenbin?",
    "How long had it been since a US secretary of state visited Beijing?",
    "What did Blinken say about de-risking and decoupling?",
    "Which Chinese foreign minister had a tense phone call with Blinken?",
    "Which university is Wu Xinbo from?",
    "What did Blinken eat at the banquet in Beijing?",
    "How much did the Russian central bank raise its rate?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="default,fast")
    parser.add_argument("--index-dir")
    args = parser.parse_args()
    for model in args.models.split(","):
        settings = load_settings(model=model, index_dir=args.index_dir)
        pipeline = Pipeline(settings)
        began = time.perf_counter()
        engine = Engine(pipeline, load_llm(settings))
        load_s = time.perf_counter() - began
        engine.ask("Who met whom?")  # warm-up: loads the embedder, BM25 and the model's fixed prompt prefix
        ttft, total, tokens = [], [], []
        for question in QUESTIONS:
            answer = engine.ask(question)
            if answer.ttft_s is not None:
                ttft.append(answer.ttft_s)
                tokens.append(answer.prompt_tokens)
            total.append(answer.total_s)
        print(f"{model}: load {load_s:.1f} s; n={len(QUESTIONS)} (refused before generation: {len(QUESTIONS) - len(ttft)}); "
              f"TTFT p50 {statistics.median(ttft):.2f} s p95 {percentile(ttft, 0.95):.2f} s; "
              f"total p50 {statistics.median(total):.2f} s p95 {percentile(total, 0.95):.2f} s; "
              f"prompt tokens p50 {statistics.median(tokens):.0f}", flush=True)


if __name__ == "__main__":
    main()
