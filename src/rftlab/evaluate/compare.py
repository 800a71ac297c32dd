"""`rftlab compare`: RFT jobs side by side, from MLflow alone (so jobs synced from Bedrock appear).

One row per run tagged `rftlab.kind = rft-job`. Only the params whose values DIFFER between
the jobs are shown (a param missing from a job counts as a different value), next to the
grader version, prompt-set digest, status, duration, cost and the `eval/*` metrics.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rftlab import contracts, tracking
from rftlab.errors import InputError
from rftlab.evaluate import plots
from rftlab.io import atomic_open
from rftlab.tracking.experiment import publish_report

EVAL_METRICS = (
    contracts.EVAL_BASE_MEAN, contracts.EVAL_TUNED_MEAN, contracts.EVAL_UPLIFT_PCT, "eval/uplift_ci_low", "eval/uplift_ci_high",
    contracts.EVAL_WIN_RATE, "eval/inference_cost_usd",
)
EVAL_COLUMNS = (contracts.EVAL_BASE_MEAN, contracts.EVAL_TUNED_MEAN, contracts.EVAL_UPLIFT_PCT, "eval/uplift_ci95", contracts.EVAL_WIN_RATE,
                "eval/inference_cost_usd")
FIXED = ("job", "backend", "status", "grader_version", "prompts_digest")
COST = (contracts.DURATION_MIN, contracts.COST_USD)
STATUS_KEYS = ("rftlab.status", "rftlab.job_status", "status", "job_status")


def _first(d: dict, keys: Sequence[str]) -> Any:
    return next((d[k] for k in keys if d.get(k) not in (None, "")), None)


def _digest(params: dict, tags: dict) -> str | None:
    if params.get("prompts.train_md5"):  # local jobs: prompts.{train,val}_md5
        return str(params["prompts.train_md5"])[:12]
    for src in (params, tags):
        for k, v in src.items():
            if k.split(".")[-1] in {"prompts_digest", "prompt_digest", "prompts_md5"} and v:
                return str(v)
    return None


def job_row(run: Any) -> dict[str, Any]:
    """A flat, printable description of one job run."""
    tags, params, metrics = run.data.tags, dict(run.data.params), run.data.metrics
    row: dict[str, Any] = {
        "run_id": run.info.run_id,
        "job": tags.get(contracts.JOB_ID) or run.info.run_name or run.info.run_id[:8],
        "backend": tags.get(contracts.BACKEND) or params.get("backend"),
        "status": _first(tags, STATUS_KEYS) or _first(params, STATUS_KEYS) or run.info.status,
        "grader_version": tags.get(contracts.GRADER_VERSION) or params.get("grader_version"),
        "prompts_digest": _digest(params, tags),
        "evaluated": tags.get("rftlab.evaluated") == "true",
        "params": params,
        "study": tags.get(contracts.STUDY),
        "trial": tags.get("rftlab.trial"),
        "trial_state": tags.get("rftlab.trial_state"),
    }
    for k in (*COST, *EVAL_METRICS):
        row[k] = metrics.get(k)
    lo, hi = row["eval/uplift_ci_low"], row["eval/uplift_ci_high"]
    row["eval/uplift_ci95"] = None if lo is None or hi is None else f"{lo:.1f}..{hi:.1f}"
    return row


def differing_params(rows: Sequence[dict], *, partial: bool = False) -> list[str]:
    """Param names with more than one value across the jobs.

    A param set in only some jobs (e.g. local-only options next to a Bedrock job) counts as
    differing only with `partial=True`; by default only disagreeing values are shown.
    """
    shown = {"backend", "grader_version", "status", "job_id", "spec_hash", "prompts.train_md5"}
    keys = sorted({k for r in rows for k in r["params"]})
    out = []
    for k in keys:
        if k in shown or k.split(".")[-1] in {"prompts_digest", "prompt_digest", "prompts_md5"}:
            continue
        values = [r["params"].get(k) for r in rows]
        present = {v for v in values if v is not None}
        if len(present) > 1 or (partial and present and None in values):
            out.append(k)
    return out


def sort_keys(rows: Sequence[dict]) -> list[str]:
    """What `--sort` accepts: the table's columns, the evaluation metrics and any job's params."""
    named = [*FIXED, *COST, *EVAL_METRICS, "eval/uplift_ci95"]
    return [*dict.fromkeys(named), *sorted({k for r in rows for k in r["params"]} - set(named))]


def sort_rows(rows: list[dict], key: str | None, *, ascending: bool = False) -> list[dict]:
    """Sort by a column or param; jobs without a value go last either way. An unknown key is an
    InputError naming the valid ones."""
    if not key:
        return rows
    valid = sort_keys(rows)
    if key not in valid:
        params = [k for k in valid if k not in (*FIXED, *COST, *EVAL_METRICS, "eval/uplift_ci95")]
        hint = f"; or a param: {', '.join(params[:8])}{', ...' if len(params) > 8 else ''}" if params else ""
        raise InputError(f"--sort {key!r}: not a column, metric or param of these jobs; use one of "
                         f"{', '.join([*FIXED, *COST, *EVAL_METRICS])}{hint}")

    def value(r: dict) -> Any:
        v = r.get(key, r["params"].get(key))
        try:
            return float(v)
        except (TypeError, ValueError):
            return v

    present = [r for r in rows if value(r) is not None and value(r) == value(r)]
    missing = [r for r in rows if r not in present]
    try:
        present.sort(key=value, reverse=not ascending)
    except TypeError:
        present.sort(key=lambda r: str(value(r)), reverse=not ascending)
    return present + missing


def columns(rows: Sequence[dict], *, partial: bool = False) -> list[str]:
    return [*FIXED, *differing_params(rows, partial=partial), *COST, *EVAL_COLUMNS]


def cell(row: dict, col: str, width: int = 24) -> str:
    v = row.get(col) if col in row else row["params"].get(col)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        text = f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"
    else:
        text = str(v)
    return text if len(text) <= width else text[: width - 1] + "…"


def header(col: str) -> str:
    return col.removeprefix("hyperparameters.").removeprefix("eval/")


def format_table(rows: Sequence[dict], cols: Sequence[str]) -> str:
    """A plain fixed-width table (no colour codes, so it pipes and diffs cleanly)."""
    grid = [[header(c) for c in cols]] + [[cell(r, c) for c in cols] for r in rows]
    widths = [max(len(line[i]) for line in grid) for i in range(len(cols))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in grid]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def load_rows(experiment: str | None = None, study: str | None = None) -> list[dict]:
    """Job rows of the experiment; with `study`, only the trials of that `rftlab search` study."""
    rows = [job_row(r) for r in tracking.runs_of_kind(contracts.RFT_JOB, experiment=experiment)]
    if study is not None:
        rows = [r for r in rows if r["study"] == study]
        if not rows:
            raise InputError(f"no rft-job runs tagged rftlab.study = {study!r} in experiment {experiment or '(from params)'}")
    if not rows:
        raise InputError(f"no runs with rftlab.kind = rft-job in experiment {experiment or '(from params)'}")
    return rows


def _figures(rows: Sequence[dict], folder: Path) -> dict[str, Any]:
    """Download each job's evaluation PNGs and render cross-job figures; paths relative to the report."""

    figs: dict[str, Any] = {"jobs": {}}
    curves = {r["job"]: tracking.metric_history(r["run_id"], contracts.TRAIN_REWARD_MEAN) for r in rows}
    figs["reward_curves"] = plots.save(plots.reward_curves(curves, title="train/reward_mean by job"), folder / "reward_curves.png")
    evaluated = [r for r in rows if r.get(contracts.EVAL_UPLIFT_PCT) is not None]
    if evaluated:
        figs["uplift"] = plots.save(plots.uplift_bars(evaluated), folder / "uplift.png")
    for r in rows:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(r["job"]))
        got = [tracking.download_artifact(r["run_id"], f"evaluate/{name}", folder / safe)
               for name in ("score_hist.png", "reward_curve.png")]
        figs["jobs"][r["job"]] = [p for p in got if p is not None]
        if not figs["jobs"][r["job"]] and (folder / safe).is_dir() and not any((folder / safe).iterdir()):
            (folder / safe).rmdir()
    return figs


def write_report(rows: Sequence[dict], cols: Sequence[str], path: str | Path, *, title: str = "RFT job comparison") -> Path:
    """Markdown (.md) or HTML (.html/.htm) report with the table and the plots beside it."""

    path = Path(path).absolute()  # downloaded artifacts come back as absolute paths
    fmt = "html" if path.suffix.lower() in {".html", ".htm"} else "md" if path.suffix.lower() in {".md", ".markdown"} else None
    if fmt is None:
        raise InputError(f"{path}: report must end with .md or .html")
    folder = path.parent / f"{path.stem}_files"
    figs = _figures(rows, folder)
    rel = lambda p: Path(os.path.relpath(Path(p).absolute(), path.parent)).as_posix()  # noqa: E731
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    images = [("Reward curves", figs["reward_curves"])] + ([("Uplift with 95% bootstrap interval", figs["uplift"])] if "uplift" in figs else [])
    per_job = [(job, [(p.stem, p) for p in ps]) for job, ps in figs["jobs"].items() if ps]
    if fmt == "md":
        out = [f"# {title}", "", f"{len(rows)} job(s), generated {stamp}. Costs are estimates.", ""]
        out.append("| " + " | ".join(header(c) for c in cols) + " |")
        out.append("|" + "---|" * len(cols))
        out += ["| " + " | ".join(cell(r, c, 40).replace("|", "\\|") for c in cols) + " |" for r in rows]
        for name, p in images:
            out += ["", f"## {name}", "", f"![{name}]({rel(p)})"]
        for job, ps in per_job:
            out += ["", f"## {job}", ""] + [f"![{job} {stem}]({rel(p)})" for stem, p in ps]
        text = "\n".join(out) + "\n"
    else:
        e = html.escape
        head = "".join(f"<th>{e(header(c))}</th>" for c in cols)
        body = "".join("<tr>" + "".join(f"<td>{e(cell(r, c, 40))}</td>" for c in cols) + "</tr>" for r in rows)
        parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>",
                 "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:2px 6px}"
                 "table{border-collapse:collapse}</style></head><body>",
                 f"<h1>{e(title)}</h1><p>{len(rows)} job(s), generated {e(stamp)}. Costs are estimates.</p>",
                 f"<table><tr>{head}</tr>{body}</table>"]
        parts += [f"<h2>{e(n)}</h2><img src='{e(rel(p))}' alt='{e(n)}'>" for n, p in images]
        for job, ps in per_job:
            parts.append(f"<h2>{e(str(job))}</h2>" + "".join(f"<img src='{e(rel(p))}' alt='{e(stem)}'>" for stem, p in ps))
        text = "".join(parts) + "</body></html>\n"
    with atomic_open(path) as fh:
        fh.write(text)
    return path


def publish(rows: Sequence[dict], cols: Sequence[str], *, study: str | None = None,
            experiment: str | None = None) -> str | None:
    """Log the HTML report (and its figures) to MLflow, one click from the runs page: into the study's
    `search` run, else the experiment's `comparison` run (its description links to it). Returns the
    run id; a store that refuses says so in a warning, never failing the command."""

    with tempfile.TemporaryDirectory() as tmp:
        write_report(rows, cols, Path(tmp) / "report.html", title="RFT job comparison" + (f": {study}" if study else ""))
        return publish_report(Path(tmp), study=study, experiment=experiment)


def compare(
    *, experiment: str | None = None, sort: str | None = contracts.EVAL_UPLIFT_PCT, ascending: bool = False,
    report: str | Path | None = None, partial: bool = False, study: str | None = None, log: bool = False,
) -> tuple[str, list[dict]]:
    """The terminal table (and the report file when asked; with `log`, the report in MLflow too);
    returns (table text, rows)."""
    rows = sort_rows(load_rows(experiment, study), sort, ascending=ascending)
    cols = columns(rows, partial=partial)
    if study is not None:
        cols = ["trial", "trial_state", *cols]
    if report:
        write_report(rows, cols, report)
    if log:
        publish(rows, cols, study=study, experiment=experiment)
    return format_table(rows, cols), rows
