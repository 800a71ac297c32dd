"""Run the pipeline's Bedrock path against the rehearsal servers, without touching the workspace.

`dvc exp run --temp` (DVC's documented way to run an experiment outside the workspace:
https://dvc.org/doc/command-reference/exp/run) copies the workspace, uncommitted changes
included, into .dvc/tmp/exps, sets the `-S` params there and commits the result as an
experiment ref; params.yaml, dvc.lock and the data outputs of the workspace stay as they are.
Outputs that DVC does not cache (`cache: false`, e.g. the Optuna study and the metrics files)
are copied in with `-C`, so the local stages before `rft` are not rerun. Stage commands find
this environment's `rftlab` first on PATH; MLflow runs go to the workspace's store
(`MLFLOW_TRACKING_URI`, absolute) under the experiment `rftlab-rehearsal`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rftlab import contracts, tracking
from rftlab.backends.bedrock.rehearsal.servers import Rehearsal
from rftlab.errors import InputError, RftlabError
from rftlab.errors import InputError as Missing
from rftlab.tracking import tracking_uri

EXPERIMENT = "rftlab-rehearsal"
POLL = {"rft.bedrock.poll_s": 0.5, "rft.bedrock.poll_max_s": 1.0}
# The stand-in's Converse answers with a small local model (or a fixed reply), not Nova: the preflight
# goes through its real path (Converse calls, cost estimate, figures, MLflow run) but cannot gate on them.
PREFLIGHT = {"preflight.enforce": False, "preflight.prompts": 8}
EVAL_KEYS = (contracts.EVAL_BASE_MEAN, contracts.EVAL_TUNED_MEAN, contracts.EVAL_UPLIFT_PCT, contracts.EVAL_WIN_RATE)


class RehearsalFailed(RftlabError):
    exit_code = 1


@dataclass
class Outcome:
    """What the rehearsal produced: the stand-in's jobs and the job's MLflow run."""

    jobs: list[dict[str, Any]]
    run_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = []
        for job in self.jobs:
            out.append(f"job      {job['jobArn']} ({job['status']})")
            if job.get("failureMessage"):
                out.append(f"failure  {job['failureMessage']}")
        out.append(f"MLflow   run {self.run_id or '(none found)'} in experiment {EXPERIMENT}")
        for name, points in self.curves.items():
            if points:
                out.append(f"{name:<22} {points[0][1]:.3f} (step {points[0][0]}) -> {points[-1][1]:.3f} "
                           f"(step {points[-1][0]}), {len(points)} points")
        for key in ("cost_estimate_usd", contracts.COST_USD, *EVAL_KEYS):
            if key in self.metrics:
                out.append(f"{key:<22} {self.metrics[key]:.4g}")
        return out


def dvc_executable() -> str:
    here = Path(sys.executable).parent / "dvc"
    found = str(here) if here.exists() else shutil.which("dvc")
    if not found:
        raise InputError("dvc not found next to this Python or on PATH (pip install -e '.[dev]')")
    return found


def _paths(items: list[Any] | None) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for item in items or []:
        if isinstance(item, dict):
            out += [(str(k), v if isinstance(v, dict) else {}) for k, v in item.items()]
        else:
            out.append((str(item), {}))
    return out


def _downstream(stages: dict[str, Any], first: str) -> set[str]:
    """`first` and every stage that depends, directly or not, on its outputs."""
    found, outs = {first}, {p for p, _ in _paths(stages.get(first, {}).get("outs"))}
    changed = True
    while changed:
        changed = False
        for name, stage in stages.items():
            deps = {str(d) for d in stage.get("deps") or []}
            if name not in found and any(d == o or d.startswith(o.rstrip("/") + "/") for d in deps for o in outs):
                found.add(name)
                outs |= {p for kind in ("outs", "metrics", "plots") for p, _ in _paths(stage.get(kind))}
                changed = True
    return found


def copy_paths(root: Path) -> list[str]:
    """What `dvc exp run --temp` must be given with -C: uncached outputs (`cache: false`) of the stages before
    `rft`, as their topmost folder that git does not track (DVC does not create missing parent folders)."""

    stages = (yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8")) or {}).get("stages") or {}
    skip = _downstream(stages, "rft") if "rft" in stages else set()
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True).stdout.split("\0")
    tracked_dirs = {str(Path(f).parents[i]) for f in tracked if f for i in range(len(Path(f).parents) - 1)}
    found = set()
    for name, stage in stages.items():
        if name in skip:
            continue
        for kind in ("outs", "metrics", "plots"):
            for path, opts in _paths(stage.get(kind)):
                if opts.get("cache") is False and (root / path).exists():
                    parts = Path(path).parts
                    top = next(str(Path(*parts[:i])) for i in range(1, len(parts) + 1)
                               if str(Path(*parts[:i])) not in tracked_dirs)
                    found.add(top)
    return sorted(found)


def settings(rehearsal: Rehearsal, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `-S` params: the Bedrock backend, the seeded account's names, short polls, the rehearsal experiment."""
    return {"rft.backend": "bedrock", **rehearsal.settings, **POLL, **PREFLIGHT, "tracking.experiment": EXPERIMENT,
            **(extra or {})}


def run(root: Path, rehearsal: Rehearsal, *, targets: tuple[str, ...] = (), force: bool = False,
        single: bool = False, extra: dict[str, Any] | None = None, echo: Callable[[str], None] = print) -> Outcome:
    """`dvc exp run --temp -S ...` in `root` against the running servers; the outcome from stand-in and MLflow."""

    if not (root / "dvc.yaml").exists():
        raise InputError(f"{root}/dvc.yaml not found: run the rehearsal from an rftlab project")
    cmd = [dvc_executable(), "exp", "run", "--temp"]
    cmd += [a for path in copy_paths(root) for a in ("-C", path)]
    cmd += [a for k, v in settings(rehearsal, extra).items() for a in ("-S", f"{k}={v}")]
    cmd += ["--force"] * force + ["--single-item"] * single + list(targets)
    env = rehearsal.child_env()
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["MLFLOW_TRACKING_URI"] = tracking_uri()
    env.pop("RFTLAB_PARAMS", None)
    env.pop("RFTLAB_JOBS_DIR", None)
    echo("$ dvc " + " ".join(cmd[1:]))
    done = subprocess.run(cmd, cwd=root, env=env)
    outcome = collect(rehearsal)
    if done.returncode != 0:
        for line in outcome.lines():
            echo(line)
        raise RehearsalFailed(f"dvc exp run failed (exit {done.returncode}); the stage output above names the step")
    return outcome


def collect(rehearsal: Rehearsal) -> Outcome:
    """The stand-in's jobs and, for the newest, its MLflow run (found by `rftlab.job_id`)."""

    jobs = rehearsal.standin.jobs()
    outcome = Outcome(jobs=jobs)
    if not jobs:
        return outcome
    try:
        runs = [r for r in tracking.runs_of_kind(contracts.RFT_JOB, experiment=EXPERIMENT)
                if r.data.tags.get(contracts.JOB_ID) == jobs[-1]["jobArn"]]
    except Missing:
        return outcome
    if runs:
        run = runs[0]
        outcome.run_id, outcome.tags = run.info.run_id, dict(run.data.tags)
        outcome.metrics = dict(run.data.metrics)
        outcome.curves = {k: tracking.metric_history(run.info.run_id, k) for k in (contracts.TRAIN_REWARD_MEAN,
                                                                                   contracts.VAL_REWARD_MEAN)}
    return outcome
