"""The evaluate stage's inputs: the job record (plus the deploy stage's record), the grader the job
trained against, and the backend's generators for base and tuned."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from rftlab import plugins
from rftlab.config import Params
from rftlab.errors import InputError
from rftlab.generation import Generator
from rftlab.grader.bundle import load_grader
from rftlab.io import project_path, read_json

log = logging.getLogger(__name__)

JOB_FIELDS = ("job_id", "backend", "status", "base_model", "model_id", "grader_path")


def read_job(path: str | Path) -> dict:
    """The job record written by the rft stage; checks the fields evaluation relies on."""
    job = read_json(path)
    if not isinstance(job, dict):
        raise InputError(f"{path}: expected a JSON object (the job record)")
    missing = [k for k in JOB_FIELDS if not job.get(k)]
    if missing:
        raise InputError(f"{path}: missing field(s) {', '.join(missing)}")
    if job["status"] != "Completed":
        raise InputError(f"{path}: job {job['job_id']} is {job['status']}, not Completed; nothing to evaluate yet")
    return job


def with_deployment(job: dict, path: str | Path | None) -> dict:
    """The job record plus what the deploy stage recorded (the deployment ARN for a Bedrock job)."""
    if path is None or not Path(path).exists():
        return job
    dep = read_json(path)
    if not isinstance(dep, dict) or dep.get("job_id") != job["job_id"]:
        raise InputError(f"{path}: the deployment record is not for job {job['job_id']}; run `rftlab deploy --out {path}`")
    return {**job, **{k: v for k, v in dep.items() if k == "deployment_arn" and v}}


def load_job_grader(job: dict) -> Any:
    """The grader bundle the job trained against; refuses a bundle whose version differs."""
    path = project_path(job["grader_path"])
    if not path.exists():
        raise InputError(f"job {job['job_id']}: grader bundle {path} not found")
    grader = load_grader(path)
    want = job.get("grader_version")
    if want and grader.version != want:
        raise InputError(
            f"{path}: grader version {grader.version} differs from {want}, the one job {job['job_id']} "
            "trained against; restore that bundle (e.g. `dvc checkout`) before evaluating"
        )
    if not want:
        log.warning("job %s records no grader_version; scoring with %s", job["job_id"], grader.version)
    return grader


def make_generators(job: dict, params: Params) -> tuple[Generator, Generator]:
    """(base, tuned) for the job's backend (its plugin: a local folder, a deployment, an API)."""
    return plugins.backend(job["backend"], key=f"job {job['job_id']}: backend").generators(job, params)
