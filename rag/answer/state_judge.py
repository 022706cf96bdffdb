"""The judge that reads the model's own hidden states: the probes of rag/answer/probes.py climbing the decision
ladder of rag/answer/ladder.py, for a backend whose states can be read (a bundled model in-process).

Example: judge, note = load_state_judge(llm)     # (StateJudge, "") or (None, "why there is none")
         gate = judge.gate(scores)      # handed to llm.stream: False once the prompt is read -> refused, no draft
         judge.verdict(info, question, reasons, scores) -> Verdict("withheld", "correctness probe", "correctness 0.21 < 0.45")
         scores -> {"sufficiency": 0.93, "correctness": 0.21}
A model server shows no states, a probe file may be missing or belong to another model file: then there is no
StateJudge, the rules decide as before, and the note says why (the record's judge.probes.unavailable).
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.answer.ladder import Ladder, Verdict, decide
from rag.answer.probes import Probes, ProbesUnavailable, features
from rag.generate.backend import Gate, Generation
from rag.generate.capture import CaptureUnavailable

SOURCE = "hidden-state probes"


@dataclass
class StateJudge:
    probes: Probes
    ladder: Ladder

    def gate(self, scores: dict) -> Gate:
        """Before the first token: the sufficiency probe on the prompt's last state (kept in scores)."""
        def passes(info: Generation) -> bool:
            if info.states is None or not self.probes.has("sufficiency"):
                return True
            scores["sufficiency"] = self.probes.score("sufficiency", features(info, ""))
            return decide({"sufficiency": scores["sufficiency"]}, self.ladder).decision == "shown"
        return passes

    def verdict(self, info: Generation, question: str, reasons: list[str], scores: dict) -> Verdict:
        """The ladder's verdict on a finished draft; scores gets every probe's score."""
        if info.states is not None:
            found = features(info, question)
            scores.update({name: self.probes.score(name, found) for name in self.probes.probes})
        return decide({**scores, "reasons": reasons}, self.ladder)

    def public(self, scores: dict, decided_by: str) -> dict:
        """What the record and the window show: each probe's score and threshold, and which rung decided."""
        shown = {name: {"score": None if scores.get(name) is None else round(scores[name], 3),
                        "threshold": round(probe.threshold, 3), "layer": probe.layer, "feature": probe.feature}
                 for name, probe in self.probes.probes.items()}
        return {**shown, "decided_by": decided_by, "rules_kept": sorted(self.ladder.rules)}


def load_state_judge(llm, enabled: bool = True) -> tuple[StateJudge | None, str]:
    """The state judge for this backend, or None and why not (switched off, no states, no probe for the model)."""
    if not enabled:
        return None, "switched off (RAG_PROBES=false)"
    if llm.states_unavailable:
        return None, llm.states_unavailable
    try:
        probes = Probes.load(llm.name, llm.model_sha256)
        llm.watch(probes.layers)
    except (ProbesUnavailable, CaptureUnavailable) as exc:
        return None, str(exc)
    return StateJudge(probes, probes.ladder), ""
