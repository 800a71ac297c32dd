"""The preflight's plots: scores.json (DVC plot rows: the reward histogram) and preflight.png
(the histogram against the target's median and p90, and the reward spread per prompt)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window (before pyplot is imported)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from rftlab.io import atomic_path, write_json  # noqa: E402

FILES = ("scores.json", "preflight.png")


def write(folder: Path, figs: dict[str, Any], groups: list) -> None:
    write_json(folder / "scores.json", figs["histogram"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    rewards = [r.reward for g in groups for r in g]
    axes[0].hist(rewards, bins=np.linspace(0, 1, 21), color="tab:blue", alpha=0.8)
    axes[0].axvline(figs["target_median"], color="r", ls="--", label="target median (style)")
    axes[0].axvline(figs["target_p90"], color="k", ls=":", label="target p90 (style)")
    axes[0].set(xlabel="reward", ylabel="rollouts", title="base-model rollouts")
    axes[0].legend(fontsize="small")
    stds = sorted(float(np.std([r.reward for r in g])) for g in groups if g)
    axes[1].plot(range(len(stds)), stds, marker=".")
    axes[1].set(xlabel="prompt (sorted)", ylabel="reward std within the prompt", title="spread per prompt (GRPO signal)")
    fig.tight_layout()
    with atomic_path(folder / "preflight.png") as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
