"""Lineage for the stages DVC restored from its cache: no command ran, so no run was logged.

`python -m rftlab.tracking.restored [dvc.lock]` (the pipeline's last stage, `lineage`, always run)
makes sure the current MLflow store holds a run for every stage in dvc.lock, keyed by the
stage's digest (`rftlab.dvc.stage_md5`: MD5 over its dependencies', params' and outputs' digests):

- a run already carrying that digest: nothing to do (a second `dvc repro` adds nothing);
- a run the stage's command logged in this store (same kind, its `dvc.dep.*` digests among the
  stage's dependencies; for rft and evaluate, the job named in data/rft/job.json): tagged with the
  digest and the stage's output digests;
- otherwise a light run of the stage's kind, tagged `rftlab.restored = true`, with the DVC
  digests of its inputs and outputs, its params and the numbers of its metrics files.

Prints one line per stage it linked or recorded.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from rftlab import contracts, tracking
from rftlab.tracking.runs import find_runs, log_metrics, stage_run

STAGE, STAGE_MD5, RESTORED = "rftlab.dvc.stage", "rftlab.dvc.stage_md5", "rftlab.restored"
STAGE_KINDS = {"sample": "sample", "ingest": "ingest", "profile": "profile", "calibrate": "calibration",
               "check": contracts.GRADER_CHECK, "prompts": "prompts", "base_model": contracts.BASE_MODEL, "rft": contracts.RFT_JOB,
               "evaluate": "evaluation"}
JOB_RECORD = "data/rft/job.json"


def _digests(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {str(i["path"]): str(i.get("md5", "")) for i in items or []}


def stage_digest(entry: Mapping[str, Any]) -> str:
    blob = json.dumps({"deps": _digests(entry.get("deps")), "params": entry.get("params") or {},
                       "outs": _digests(entry.get("outs"))}, sort_keys=True, default=str)
    return hashlib.md5(blob.encode("utf-8")).hexdigest()


def lock_stages(lock: Path) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(lock.read_text(encoding="utf-8")) or {}
    return dict(data.get("stages") or {})


def _job_id(root: Path, entry: Mapping[str, Any]) -> str | None:
    paths = set(_digests(entry.get("deps"))) | set(_digests(entry.get("outs")))
    if JOB_RECORD not in paths or not (root / JOB_RECORD).exists():
        return None
    try:
        return str(json.loads((root / JOB_RECORD).read_text(encoding="utf-8"))["job_id"])
    except (ValueError, KeyError, TypeError):
        return None


def _logged_run(kind: str, entry: Mapping[str, Any], job_id: str | None) -> Any | None:
    """The newest run of `kind` the stage's command logged in this store for these inputs."""
    deps = set(_digests(entry.get("deps")).values())
    candidates = find_runs(contracts.JOB_ID, job_id) if job_id else find_runs(contracts.KIND, kind)
    for run in candidates:
        tags = run.data.tags
        if tags.get(contracts.KIND) != kind or run.info.status != "FINISHED" or tags.get("rftlab.superseded_by"):
            continue
        if job_id:
            return run
        used = {v for k, v in tags.items() if k.startswith("dvc.dep.")}
        if used and used <= deps:
            return run
    return None


def _metrics(root: Path, entry: Mapping[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for path in _digests(entry.get("outs")):
        if path.startswith("metrics/") and path.endswith(".json") and (root / path).exists():
            data = json.loads((root / path).read_text(encoding="utf-8"))
            out.update({k: float(v) for k, v in data.items() if isinstance(v, int | float) and not isinstance(v, bool)})
    return out


def record(lock: Path, root: Path | None = None) -> dict[str, str]:
    """Link or record a run for every stage of `lock`; returns stage -> known | linked | restored."""

    root = root or lock.resolve().parent
    actions: dict[str, str] = {}
    stages = lock_stages(lock)
    for name in sorted(stages, key=lambda n: STAGE_KINDS.get(n) == "evaluation"):  # jobs before their evaluations
        entry = stages[name]
        kind = STAGE_KINDS.get(name)
        if kind is None:
            continue
        key = stage_digest(entry)
        if find_runs(STAGE_MD5, key):
            actions[name] = "known"
            continue
        job_id = _job_id(root, entry)
        tags = {STAGE: name, STAGE_MD5: key, **{f"dvc.out.{p}": m for p, m in _digests(entry.get("outs")).items()}}
        run = _logged_run(kind, entry, job_id)
        if run is not None:
            tracking.tag_run(run.info.run_id, tags)
            actions[name] = "linked"
            continue
        parent = None
        if kind == "evaluation" and job_id:
            jobs = [r for r in find_runs(contracts.JOB_ID, job_id) if r.data.tags.get(contracts.KIND) == contracts.RFT_JOB]
            parent = jobs[0].info.run_id if jobs else None
        tags.update({RESTORED: "true", **{f"dvc.dep.{p}": m for p, m in _digests(entry.get("deps")).items()}})
        if job_id:
            tags[contracts.JOB_ID] = job_id
        params = (entry.get("params") or {}).get("params.yaml") or {}
        with stage_run(kind, run_name=f"{name} (restored by DVC)", tags=tags, params=params, parent_run_id=parent):
            log_metrics(_metrics(root, entry))
        actions[name] = "restored"
    return actions


def main(argv: list[str]) -> int:
    lock = Path(argv[0] if argv else "dvc.lock")
    if not lock.exists():
        print(f"error: {lock}: no DVC lock file", file=sys.stderr)
        return 2
    for name, action in record(lock).items():
        if action != "known":
            what = "run linked" if action == "linked" else "restored by DVC, light run recorded"
            print(f"lineage: stage {name}: {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
