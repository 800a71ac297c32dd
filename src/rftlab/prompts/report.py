"""Outputs of the prompts stage: the JSONL files, its metrics, the length plot (prompts_stage.py writes them)."""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from rftlab.io import atomic_open, atomic_path, write_jsonl
from rftlab.prompts.build import REASONS, PromptSet
from rftlab.prompts.text import estimate_tokens

MAX_BINS = 40  # histogram bins: the smallest power-of-two width (estimated tokens) giving at most this many


def write_records(path: Path, records: list[dict]) -> None:
    """Deterministic bytes: records in build order, keys in record order, UTF-8 kept readable."""

    write_jsonl(path, records)


def prompt_tokens(record: dict) -> int:
    return sum(estimate_tokens(m["content"]) for m in record["messages"])


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"count": 0}
    s = sorted(values)

    def q(p: float) -> float:
        return float(s[min(len(s) - 1, int(math.floor(p * (len(s) - 1) + 0.5)))])

    return {
        "count": len(s), "min": float(s[0]), "p50": q(0.5), "p90": q(0.9), "max": float(s[-1]),
        "mean": round(statistics.fmean(s), 2),
    }


def metrics(result: PromptSet) -> dict[str, Any]:
    """Counts, split sizes, drops by reason and length stats (DVC metrics + MLflow)."""
    def lengths(records: list[dict]) -> dict[str, Any]:
        return {
            "prompt_chars": _stats([len(r["messages"][-1]["content"]) for r in records]),
            "prompt_tokens": _stats([prompt_tokens(r) for r in records]),
            "reference_chars": _stats([len(str(r["reference_answer"])) for r in records]),
        }

    real_train = [r for r in result.train if "augmented_from" not in r]
    threads = lambda rs: len({(r["channel"], r["thread_ts"]) for r in rs})  # noqa: E731
    total = len(real_train) + len(result.val)
    return {
        "messages": result.messages,
        "pairs": {"thread": result.pairs.get("thread", 0), "channel": result.pairs.get("channel", 0)},
        "dropped": {r: result.dropped.get(r, 0) for r in REASONS},
        "prompts": total,
        "train": len(result.train),
        "train_original": len(real_train),
        "val": len(result.val),
        "val_share": round(len(result.val) / total, 4) if total else 0.0,
        "train_threads": threads(real_train),
        "val_threads": threads(result.val),
        "augmented": {k: v for k, v in sorted(result.augmented.items())},
        "lengths": {"train": lengths(result.train), "val": lengths(result.val)},
    }


def bin_width(largest: int, max_bins: int = MAX_BINS) -> int:
    width = 1
    while (largest // width) + 1 > max_bins:
        width *= 2
    return width


def histogram(result: PromptSet) -> list[dict[str, int]]:
    """Rows {tokens (bin start), train, val, prompts} over estimated prompt tokens."""
    tr_tokens = [prompt_tokens(r) for r in result.train]
    va_tokens = [prompt_tokens(r) for r in result.val]
    width = bin_width(max(tr_tokens + va_tokens, default=0))
    tr, va = Counter(t // width for t in tr_tokens), Counter(t // width for t in va_tokens)
    top = max([*tr, *va], default=0)
    return [
        {"tokens": b * width, "train": tr[b], "val": va[b], "prompts": tr[b] + va[b]} for b in range(top + 1)
    ]


def write_plots(result: PromptSet, plots_dir: Path) -> dict[str, Path]:
    """plots/prompts/lengths.csv (DVC plot data) and lengths.png; returns both paths."""
    # matplotlib loads only when a figure is drawn
    import matplotlib

    matplotlib.use("Agg")
    # matplotlib loads only when a figure is drawn
    import matplotlib.pyplot as plt

    rows = histogram(result)
    csv_path, png_path = plots_dir / "lengths.csv", plots_dir / "lengths.png"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["tokens", "train", "val", "prompts"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_open(csv_path) as fh:
        fh.write(buf.getvalue())

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    x = [r["tokens"] for r in rows]
    width = (x[1] - x[0]) if len(x) > 1 else 1
    ax1.bar(x, [r["train"] for r in rows], width=width, align="edge", alpha=0.7, label=f"train ({len(result.train)})")
    ax1.bar(x, [r["val"] for r in rows], width=width, align="edge", alpha=0.7, label=f"val ({len(result.val)})")
    ax1.set(xlabel="estimated prompt tokens", ylabel="prompts", title="Prompt length")
    ax1.legend()
    ref_len = {n: [len(str(r["reference_answer"])) for r in rs] for n, rs in (("train", result.train), ("val", result.val))}
    longest = max([*ref_len["train"], *ref_len["val"], 1])
    edges = list(range(0, longest + bin_width(longest) + 1, bin_width(longest)))
    for name, lengths_ in ref_len.items():
        ax2.hist(lengths_ or [0], bins=edges, alpha=0.7, label=name)
    ax2.set(xlabel="characters", ylabel="reference answers", title="Reference answer length")
    ax2.legend()
    fig.tight_layout()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return {"csv": csv_path, "png": png_path}
