"""Evaluation's pure parts: every sample graded with its prompt and reference, the judge's verdicts,
token and cost figures per side, and the side-by-side table."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from rftlab.evaluate import metrics as M
from rftlab.generation import Completion
from rftlab.io import atomic_open
from rftlab.prompts.records import prompt_text, reference_text


def score_completions(grader: Any, prompts: list[dict], completions: list[list[Completion]]) -> list[list[dict]]:
    """Grade every sample with its prompt and reference; one dict per sample."""
    out = []
    for record, samples in zip(prompts, completions, strict=True):
        p, ref = prompt_text(record), reference_text(record)
        rows = []
        for c in samples:
            score, comps = grader.score(c.text, prompt=p, reference=ref)
            rows.append({**c.to_dict(), "score": float(score), "components": dict(comps or {})})
        out.append(rows)
    return out


def judge_all(judge: Any, prompts: list[dict], graded: list[list[dict]]) -> None:
    for record, samples in zip(prompts, graded, strict=True):
        for s in samples:
            v = judge.judge(prompt_text(record), s["text"])
            s["judge"] = v.to_dict()


def side_figures(graded: list[list[dict]], prefix: str, prices: dict | None, hours: float, hourly: float) -> dict:
    flat = [s for samples in graded for s in samples]
    pt = sum(s["prompt_tokens"] for s in flat)
    ct = sum(s["completion_tokens"] for s in flat)
    out: dict[str, float | None] = {f"eval/{prefix}_prompt_tokens": float(pt), f"eval/{prefix}_completion_tokens": float(ct)}
    for name, value in M.component_means([s["components"] for s in flat]).items():
        out[f"eval/{prefix}/{name}"] = value
    if any("judge" in s for s in flat):
        out[f"eval/judge_{prefix}_mean"] = M.mean([s["judge"]["score"] for s in flat])
        out[f"eval/judge_{prefix}_failures"] = float(sum(not s["judge"]["ok"] for s in flat))
    cost = M.inference_cost(pt, ct, usd_per_1k_input=prices["in"], usd_per_1k_output=prices["out"]) if prices else hours * hourly
    out[f"eval/{prefix}_cost_usd"] = cost
    return out


def side_by_side(prompts: list[dict], base: list[list[dict]], tuned: list[list[dict]]) -> dict[str, list]:
    """Columns for mlflow.log_table: one row per prompt and sample index."""
    cols: dict[str, list] = {k: [] for k in ("prompt_id", "sample", "prompt", "reference", "base", "base_score", "tuned", "tuned_score")}
    judged = any("judge" in s for samples in base + tuned for s in samples)
    if judged:
        cols.update({"base_judge": [], "tuned_judge": []})
    both_axes = any("relevance" in s for samples in base + tuned for s in samples)  # evaluate/axes.py
    if both_axes:
        cols.update({"base_relevance": [], "tuned_relevance": [], "tuned_flags": []})
    for record, bs, ts in zip(prompts, base, tuned, strict=True):
        for k in range(max(len(bs), len(ts))):
            b = bs[k] if k < len(bs) else {}
            t = ts[k] if k < len(ts) else {}
            cols["prompt_id"].append(str(record.get("id")))
            cols["sample"].append(k)
            cols["prompt"].append(prompt_text(record))
            cols["reference"].append(reference_text(record) or "")
            cols["base"].append(b.get("text", ""))
            cols["base_score"].append(round(b.get("score", 0.0), 4))
            cols["tuned"].append(t.get("text", ""))
            cols["tuned_score"].append(round(t.get("score", 0.0), 4))
            if judged:
                cols["base_judge"].append(b.get("judge", {}).get("score"))
                cols["tuned_judge"].append(t.get("judge", {}).get("score"))
            if both_axes:
                cols["base_relevance"].append(b.get("relevance"))
                cols["tuned_relevance"].append(t.get("relevance"))
                cols["tuned_flags"].append("; ".join(t.get("hacking") or []))
    return cols


def write_per_prompt(path: Path, prompts: list[dict], base: list[list[float]], tuned: list[list[float]]) -> None:
    """DVC plots data: per-prompt mean score of each model."""
    with atomic_open(path) as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["prompt", "prompt_id", "base", "tuned"])
        for i, (rec, b, t) in enumerate(zip(prompts, M.per_prompt_means(base), M.per_prompt_means(tuned))):
            w.writerow([i, rec.get("id"), round(b, 6), round(t, 6)])
