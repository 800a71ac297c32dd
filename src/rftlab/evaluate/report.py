"""Per-job evaluation report (Markdown): headline metrics, the plots, a few side-by-side samples.

Written by the `evaluate` stage next to its DVC outputs so `dvc repro` ends with a readable
file; `rftlab compare --report` is the cross-job view.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rftlab import contracts
from rftlab.io import atomic_open

HEADLINE = (
    ("base mean score", contracts.EVAL_BASE_MEAN), ("tuned mean score", contracts.EVAL_TUNED_MEAN),
    ("uplift %", contracts.EVAL_UPLIFT_PCT), ("uplift 95% CI low", "eval/uplift_ci_low"),
    ("uplift 95% CI high", "eval/uplift_ci_high"), ("win rate (ties half)", contracts.EVAL_WIN_RATE),
    ("base relevance mean", "eval/base_relevance_mean"), ("tuned relevance mean", "eval/tuned_relevance_mean"),
    ("relevance change (tuned - base)", "eval/relevance_delta"),
    ("tuned share above the target's p90 (style)", "eval/tuned_above_target_p90"),
    ("tuned share flagged as hacking", "eval/hacking_flagged"),
    ("judge base mean", "eval/judge_base_mean"), ("judge tuned mean", "eval/judge_tuned_mean"),
    ("tokens", "eval/tokens_total"), ("inference cost USD (estimate)", "eval/inference_cost_usd"),
    ("prompts", "eval/prompts"),
)


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)


def _cell(text: Any, width: int = 80) -> str:
    flat = " ".join(str(text).split()).replace("|", "\\|")
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def render(job: dict, result: dict, table: dict[str, list], images: list[Path], report: Path, *, examples: int = 8) -> str:
    rel = lambda p: Path(os.path.relpath(Path(p).absolute(), report.absolute().parent)).as_posix()  # noqa: E731
    out = [f"# Evaluation of {job['job_id']}", "",
           f"Backend `{job['backend']}`, grader `{job.get('grader_version') or '?'}`; in MLflow the `evaluation` run "
           f"nested under the run tagged `rftlab.job_id = {job['job_id']}`.", "",
           "| metric | value |", "|---|---|"]
    out += [f"| {label} | {_fmt(result.get(key))} |" for label, key in HEADLINE if result.get(key) is not None]
    comps = sorted({k.split("/", 2)[2] for k in result if k.startswith(("eval/base/", "eval/tuned/"))})
    if comps:
        out += ["", "## Grader components (mean)", "", "| component | base | tuned |", "|---|---|---|"]
        out += [f"| {c} | {_fmt(result.get(f'eval/base/{c}'))} | {_fmt(result.get(f'eval/tuned/{c}'))} |" for c in comps]
    for p in images:
        out += ["", f"![{p.stem}]({rel(p)})"]
    n = min(examples, len(table.get("prompt", [])))
    if n:
        out += ["", f"## First {n} samples side by side", "",
                "| prompt | base | score | tuned | score |", "|---|---|---|---|---|"]
        for i in range(n):
            out.append(f"| {_cell(table['prompt'][i], 60)} | {_cell(table['base'][i])} | {table['base_score'][i]:.3f} "
                       f"| {_cell(table['tuned'][i])} | {table['tuned_score'][i]:.3f} |")
    flagged = [i for i, f in enumerate(table.get("tuned_flags", [])) if f]
    if flagged:  # evaluate/axes.py: above the target's p90 while repeating the prompt or his favourite phrases
        out += ["", f"## Tuned outputs that beat the target's own replies by repeating ({len(flagged)})", "",
                "| prompt | tuned | score | relevance | why |", "|---|---|---|---|---|"]
        out += [f"| {_cell(table['prompt'][i], 60)} | {_cell(table['tuned'][i])} | {table['tuned_score'][i]:.3f} "
                f"| {_fmt(table['tuned_relevance'][i])} | {_cell(table['tuned_flags'][i], 60)} |" for i in flagged[:examples]]
    return "\n".join(out) + "\n"


def write(path: str | Path, job: dict, result: dict, table: dict[str, list], images: list[Path]) -> Path:
    path = Path(path)
    with atomic_open(path) as fh:
        fh.write(render(job, result, table, images, path))
    return path
