"""Job run names that say what differs: the DVC experiment and the `rft` params it changed.

`dvc exp run -S rft.local.hyperparameters.learningRate=3e-4 -n lr3e-4` names the job's run
`lr3e-4: learningRate=0.0003`; a plain `dvc repro` on branch main with params.yaml as committed
names it `main`. DVC sets DVC_EXP_NAME and DVC_EXP_BASELINE_REV for the commands of an
experiment (dvc/repo/experiments/queue/base.py in DVC 3); the changed params are the `rft` leaves
of params.yaml that differ from the baseline commit's. The job id (and its spec hash) stays in
the tags `rftlab.job_id` and `rftlab.spec_hash`, so two runs with one name are still told apart.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rftlab import contracts
from rftlab.config import PARAMS_FILE, params_mapping, project_root

MAX_CHANGES = 3
SPEC_HASH = contracts.SPEC_HASH  # the job's full spec hash (its id carries the first 12 hex digits)


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, Mapping):
        return {prefix.rstrip("."): d} if prefix else {}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}."))
    return out


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return "null" if v is None else str(v)


def changed_params(current: Mapping[str, Any], baseline: Mapping[str, Any], section: str = "rft") -> dict[str, Any]:
    """Dotted `section.*` keys whose value differs from the baseline's (pure)."""
    now, before = _flat(current.get(section) or {}, f"{section}."), _flat(baseline.get(section) or {}, f"{section}.")
    return {k: now.get(k) for k in sorted(set(now) | set(before)) if now.get(k) != before.get(k)}


def run_name(label: str | None, changes: Mapping[str, Any], fallback: str) -> str:
    """`label: key=value, ...` with the last segment of each changed key (pure)."""
    parts = [f"{k.rsplit('.', 1)[-1]}={_value(v)}" for k, v in list(changes.items())[:MAX_CHANGES]]
    if len(changes) > MAX_CHANGES:
        parts.append(f"+{len(changes) - MAX_CHANGES} more")
    text = ", ".join(parts)
    if label and text:
        return f"{label}: {text}"
    return label or text or fallback


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def spec_changes(hyperparameters: Mapping[str, Any], baseline: Mapping[str, Any], backend: str) -> dict[str, Any]:
    """The job's hyperparameters that differ from the baseline params' `rft.<backend>.hyperparameters`
    (a search trial sets them in the job spec, not in params.yaml; pure)."""
    base = ((baseline.get("rft") or {}).get(backend) or {}).get("hyperparameters") or {}
    return {f"rft.{backend}.hyperparameters.{k}": v for k, v in sorted(hyperparameters.items())
            if base and k in base and base[k] != v}


def job_run_name(job_id: str, hyperparameters: Mapping[str, Any] | None = None, backend: str | None = None) -> str:
    """The name a new job run gets in this checkout (falls back to the job id outside git). With
    the job's `hyperparameters`, those that differ from the baseline's count as changes too."""
    root = project_root()
    label = os.environ.get("DVC_EXP_NAME")
    baseline_rev = os.environ.get("DVC_EXP_BASELINE_REV") or "HEAD"
    if not label:
        branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
        label = branch if branch and branch != "HEAD" else _git(root, "rev-parse", "--short", "HEAD")
    current = params_mapping()
    committed = _git(root, "show", f"{baseline_rev}:{PARAMS_FILE}")
    baseline = params_mapping(committed, f"{baseline_rev}:{PARAMS_FILE}") if committed is not None else current
    changes = changed_params(current, baseline)
    if hyperparameters and backend:
        changes.update({k: v for k, v in spec_changes(hyperparameters, baseline, backend).items() if k not in changes})
    return run_name(label, changes, job_id)


def new_run_name(default: str | None) -> str | None:
    """A remote job's new run: inside a DVC stage (DVC_STAGE set), `job_run_name`; a job synced
    from elsewhere (`rftlab job sync`) keeps `default`, the backend's own job name."""
    if default and os.environ.get("DVC_STAGE"):
        return job_run_name(default)
    return default
