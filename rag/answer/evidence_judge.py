"""The trained evidence judge: a small cross-encoder (MiniLM-L6, trained here by training/train_judge.py) that scores
how well a passage answers a question, and whether a passage supports a sentence of an answer.

Example: judge = EvidenceJudge.load()
         judge.answers("Which cipher does tinc use by default?", ["tinc > Cipher\\nCipher = <cipher> (aes-256-cbc)",
                                                                  "tinc > Port\\nPort = <port> (655)"]) -> [0.97, 0.04]
         judge.supports("The default cipher is aes-256-cbc.", ["tinc > Cipher\\nCipher = <cipher> (aes-256-cbc)"])
           -> [0.93]
         judge.thresholds -> {"answerable": 0.31, "supported": 0.22}   (calibrated on the eval sets' dev split)
One model for both questions: the first text says which is asked ("question: ..." or "claim: ..."). The weights
ship in rag/answer/judge_model/ (fp16 safetensors, sha256 in judge.json) and are checked before loading.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import ModelMissingError

MODEL_DIR = Path(__file__).with_name("judge_model")
CARD = "judge.json"
WEIGHTS = "model.safetensors"
MAX_LENGTH = 192  # tokens of question + passage: a header and a two-unit window fit (longer ones are cut)
BATCH = 32


def question_input(question: str) -> str:
    return "question: " + " ".join(question.split())


def claim_input(sentence: str) -> str:
    return "claim: " + " ".join(sentence.split())


@dataclass
class EvidenceJudge:
    model: object  # sentence_transformers.CrossEncoder
    thresholds: dict = field(default_factory=dict)
    card: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, folder: Path = MODEL_DIR, n_threads: int = 2) -> EvidenceJudge:
        """Load and check the shipped weights; ModelMissingError with what to do when they are absent or altered."""
        card_path, weights = folder / CARD, folder / WEIGHTS
        if not (card_path.is_file() and weights.is_file()):
            raise ModelMissingError(f"The evidence judge's weights are missing from {folder}; restore them from git "
                                    "(`git checkout -- rag/answer/judge_model`) or retrain them (`python -m training.train_judge`)")
        card = json.loads(card_path.read_text(encoding="utf-8"))
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
        if digest != card.get("sha256"):
            raise ModelMissingError(f"{weights} does not match the sha256 in {card_path} ({digest[:12]}... against "
                                    f"{str(card.get('sha256'))[:12]}...); restore it from git or retrain it")
        import torch
        from sentence_transformers import CrossEncoder

        torch.set_num_threads(n_threads)
        model = CrossEncoder(str(folder), max_length=MAX_LENGTH, device="cpu", local_files_only=True)
        model.model.float()  # stored in fp16 to halve the repo; fp32 runs faster on CPUs without fp16 arithmetic
        return cls(model, dict(card.get("thresholds", {})), card)

    def _scores(self, pairs: list[tuple[str, str]]) -> list[float]:
        if not pairs:
            return []
        with self._lock:  # one forward pass at a time: torch threads are shared with the embedder
            scores = self.model.predict(pairs, batch_size=BATCH, show_progress_bar=False, convert_to_numpy=True)
        return [float(s) for s in scores]

    def answers(self, question: str, passages: list[str]) -> list[float]:
        """P(the passage answers the question), per passage (texts made by passage_input)."""
        return self._scores([(question_input(question), p) for p in passages])

    def supports(self, sentence: str, passages: list[str]) -> list[float]:
        """P(the passage supports the sentence), per passage."""
        return self._scores([(claim_input(sentence), p) for p in passages])

    def best_support(self, claims: list[tuple[str, list[str]]]) -> list[float]:
        """Per (sentence, passages): the best P(support) among its passages, all pairs in one batch."""
        pairs = [(claim_input(sentence), p) for sentence, passages in claims for p in passages]
        scores, out = iter(self._scores(pairs)), []
        for _, passages in claims:
            out.append(max(next(scores) for _ in passages))
        return out

    def threshold(self, name: str, default: float = 0.5) -> float:
        return float(self.thresholds.get(name, default))
