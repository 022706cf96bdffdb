"""PNG plots for the report (matplotlib, Agg backend: no display needed).

Example: answer_plots({"ours": summary, "baseline": summary}, Path("evals/out"))
  -> [("accuracy_by_type.png", "Accuracy by question type"), ("latency.png", ...), ("ours_vs_baseline.png", ...)]
Every function returns (file name, caption) pairs of what it wrote into out_dir.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

HEADLINE = ("accuracy", "answer_accuracy", "refusal_rate", "false_refusal_rate", "citation_precision",
            "quote_exactness", "crag_score")
COLOURS = {"ours": "#2b6cb0", "baseline": "#c05621"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _grouped_bars(path: Path, groups: Sequence[str], series: Mapping[str, Sequence[float | None]],
                  errors: Mapping[str, Sequence] | None, ylabel: str, title: str, ylim=(0, 1.05)) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(min(11.0, max(6.0, 0.45 * len(groups) * len(series))), 4))
    width = 0.8 / max(1, len(series))
    for at, (name, values) in enumerate(series.items()):
        xs = [i + (at - (len(series) - 1) / 2) * width for i in range(len(groups))]
        heights = [v if v is not None else 0.0 for v in values]
        yerr = None
        if errors and errors.get(name):
            bounds = [ci or (h, h) for h, ci in zip(heights, errors[name], strict=True)]
            yerr = [[max(0.0, h - low) for h, (low, _) in zip(heights, bounds, strict=True)],
                    [max(0.0, high - h) for h, (_, high) in zip(heights, bounds, strict=True)]]
        ax.bar(xs, heights, width, label=name, color=COLOURS.get(name), yerr=yerr, capsize=3)
    ax.set_xticks(range(len(groups)), groups, rotation=30, ha="right")
    ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def answer_plots(summaries: Mapping[str, Mapping], out_dir: Path) -> list[tuple[str, str]]:
    """Accuracy by type (95% Wilson bars), latency distribution, and ours vs baseline on the headline figures."""
    plt = _pyplot()
    written = []
    types = list(dict.fromkeys(t for s in summaries.values() for t in s["by_type"]))
    _grouped_bars(out_dir / "accuracy_by_type.png", types,
                  {p: [s["by_type"].get(t, {}).get("accuracy") for t in types] for p, s in summaries.items()},
                  {p: [s["by_type"].get(t, {}).get("accuracy_ci") for t in types] for p, s in summaries.items()},
                  "accuracy", "Accuracy by question type (unanswerable: refused), 95% Wilson interval")
    written.append(("accuracy_by_type.png", "Accuracy by question type"))

    fig, ax = plt.subplots(figsize=(7, 4))
    data, labels = [], []
    for name, summary in summaries.items():
        for field in ("ttft_s", "total_s"):
            values = [s[field] for s in summary["scores"] if s[field] is not None]
            if values:
                data.append(values)
                labels.append(f"{name}\n{field.removesuffix('_s')}")
    if data:
        ax.boxplot(data, tick_labels=labels, showmeans=True)
    ax.set_ylabel("seconds")
    ax.set_title("Latency per question: time to first token and total")
    fig.tight_layout()
    fig.savefig(out_dir / "latency.png", dpi=100)
    plt.close(fig)
    written.append(("latency.png", "Latency distribution"))

    if len(summaries) > 1:
        _grouped_bars(out_dir / "ours_vs_baseline.png", list(HEADLINE),
                      {p: [s["overall"].get(k) for k in HEADLINE] for p, s in summaries.items()}, None,
                      "value", "Ours vs baseline: same items, same model (CRAG: -1..1)", ylim=(-1.05, 1.05))
        written.append(("ours_vs_baseline.png", "Ours vs baseline"))
    return written


def retrieval_plots(summary: Mapping, out_dir: Path) -> list[tuple[str, str]]:
    """Source hit@5 and evidence hit by type, and the retrieval latency distribution."""
    plt = _pyplot()
    types = [t for t, figures in summary["by_type"].items() if figures["n_answerable"]]
    _grouped_bars(out_dir / "retrieval_by_type.png", types,
                  {"source hit@1": [summary["by_type"][t]["hit@1"] for t in types],
                   "source hit@5": [summary["by_type"][t]["hit@5"] for t in types],
                   "evidence hit": [summary["by_type"][t]["evidence_hit"] for t in types]},
                  {"evidence hit": [summary["by_type"][t]["evidence_hit_ci"] for t in types]},
                  "share of answerable items", "Retrieval by question type")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist([s["retrieval_s"] * 1000 for s in summary["scores"]], bins=20, color=COLOURS["ours"])
    ax.set_xlabel("ms per question (hybrid retrieval + evidence selection)")
    ax.set_ylabel("questions")
    ax.set_title("Retrieval latency")
    fig.tight_layout()
    fig.savefig(out_dir / "latency.png", dpi=100)
    plt.close(fig)
    return [("retrieval_by_type.png", "Retrieval by question type"), ("latency.png", "Retrieval latency")]
