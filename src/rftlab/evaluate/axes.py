"""Both axes of an evaluation: "writes like him" (style) and "still answers the question" (relevance).

`annotate` adds to every graded sample (base and tuned) its relevance to the prompt, judged by
the job's grader (its relevance judge; the offline proxy for a local job, and for a grader
without one, so the axis is always shown) and the hacking flags of a tuned sample: a style
score above the 90th percentile of the target's own replies (the hacking ceiling) together with
repeated prompt text or the target's favourite phrases said over and over. `metrics` turns them
into `eval/*` numbers; `figure` plots style against relevance per prompt for both models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rftlab.evaluate.plots import _plt
from rftlab.grader.relevance import Relevance
from rftlab.grader.reward import target_p90 as calibrated
from rftlab.grader.scoring import copy_overlap

FAVOURITE_REPEATS = 3   # a favourite word or ending said this often in one reply is a tic, not style
PROMPT_OVERLAP = 0.3    # share of the reply's 5-grams found in the prompt


def _judge(grader: Any) -> Any:
    rel = getattr(grader, "relevance", None)
    return rel if rel is not None else Relevance({"judge": "proxy"})


def target_p90(grader: Any, prompts: Sequence[str], references: Sequence[str | None]) -> float | None:
    """The target's 90th percentile: his real replies (reference answers) scored with their prompts,
    else the calibration figure in the bundle."""

    real = [grader.score(ref, prompt=p)[0] for p, ref in zip(prompts, references) if ref]
    return float(np.quantile(real, 0.9)) if real else calibrated(grader)


def _favourites(profile: dict) -> list[str]:
    words = [w.split(":", 1)[-1].split("-", 1)[0] for w in profile.get("favorite_words", [])]
    return [w for w in dict.fromkeys([*words, *profile.get("favorite_endings", [])]) if len(w) >= 2]


def flags(text: str, prompt: str, style: float, p90: float | None, favourites: Sequence[str]) -> list[str]:
    """Why a reply that out-scores the target looks like a hack (empty: not flagged)."""
    if p90 is None or style <= p90 or not text:
        return []

    out = []
    if prompt and copy_overlap(text, prompt) >= PROMPT_OVERLAP:
        out.append("repeats the prompt")
    repeated = [w for w in favourites if text.count(w) >= FAVOURITE_REPEATS]
    if repeated:
        out.append("repeats favourite phrases: " + ", ".join(repeated[:3]))
    return out


def annotate(grader: Any, prompts: Sequence[str], references: Sequence[str | None],
             graded: dict[str, list[list[dict]]]) -> float | None:
    """Add `relevance`, `relevance_failed` (both sides) and `hacking` (tuned) to every sample; returns p90.

    `prompts` and `references`: each prompt's last user message and reference answer."""
    judge = _judge(grader)
    p90 = target_p90(grader, prompts, references)
    favourites = _favourites(getattr(grader, "profile", {}) or {})
    for side, per_prompt in graded.items():
        for p, samples in zip(prompts, per_prompt, strict=True):
            found = judge.assess([(p, s["text"]) for s in samples])
            for s, a in zip(samples, found, strict=True):
                s["relevance"] = float(a.value)
                s["relevance_failed"] = bool(a.failed)
                if side == "tuned":
                    s["hacking"] = flags(s["text"], p, s["score"], p90, favourites)
    return p90


def metrics(graded: dict[str, list[list[dict]]], p90: float | None) -> dict[str, float | None]:
    """eval/{base,tuned}_relevance_mean, eval/relevance_delta, eval/{side}_above_target_p90 and the flag share."""
    out: dict[str, float | None] = {}
    for side in ("base", "tuned"):
        flat = [s for samples in graded[side] for s in samples]
        out[f"eval/{side}_relevance_mean"] = float(np.mean([s["relevance"] for s in flat])) if flat else None
        if p90 is not None and flat:
            out[f"eval/{side}_above_target_p90"] = float(np.mean([s["score"] > p90 for s in flat]))
    b, t = out.get("eval/base_relevance_mean"), out.get("eval/tuned_relevance_mean")
    out["eval/relevance_delta"] = t - b if b is not None and t is not None else None
    tuned = [s for samples in graded["tuned"] for s in samples]
    out["eval/hacking_flagged"] = float(np.mean([bool(s.get("hacking")) for s in tuned])) if tuned else None
    out["eval/target_p90"] = p90
    return out


def figure(graded: dict[str, list[list[dict]]], *, title: str = "") -> Any:
    """Per-prompt mean style (x) against mean relevance (y), base and tuned."""

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    for side, colour in (("base", "tab:gray"), ("tuned", "tab:orange")):
        xs = [float(np.mean([s["score"] for s in samples])) for samples in graded[side] if samples]
        ys = [float(np.mean([s["relevance"] for s in samples])) for samples in graded[side] if samples]
        ax.scatter(xs, ys, s=14, alpha=0.6, color=colour,
                   label=f"{side} (style {np.mean(xs) if xs else 0:.3f}, relevance {np.mean(ys) if ys else 0:.3f})")
    ax.set(xlim=(0, 1), ylim=(-0.05, 1.05), xlabel="style (grader score, mean per prompt)",
           ylabel="relevance (mean per prompt)", title=title or "Writes like him vs answers the question")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig
