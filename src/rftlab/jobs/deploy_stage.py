"""The `deploy` stage (dvc.yaml `deploy`): serve a completed job's model so `evaluate` can reach it, as
its backend does it (a Bedrock custom model deployment; nothing for a local folder or an open-weight
model served on demand). Shape: rftlab.stage (docs/architecture.md).

Its own stage, so the rft stage's job record is never rewritten (DVC would see that stage changed and
check the record back out of its cache). The backend records the deployment on the job's MLflow run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rftlab import plugins
from rftlab.io import read_json, write_json
from rftlab.stage import PASS, Verdict

KIND = "deploy"


def read_inputs(record_path: str | os.PathLike, job_ref: str | None) -> dict[str, Any]:
    """The job record (not needed when a job is named by id or ARN and no record is written)."""
    return read_json(record_path) if job_ref is None or Path(record_path).exists() else {}


def compute(job: dict[str, Any], params: Any, *, job_ref: str | None, name: str | None,
            echo: Callable[[str], None]) -> dict[str, Any]:
    """The deployment record: what `evaluate` needs to reach the tuned model."""
    plugin = plugins.backend(job.get("backend") or params.rft.backend, key="job record: backend")
    return plugin.deploy(job, params, job_ref=job_ref, name=name, echo=echo)


def gate(deployment: dict[str, Any]) -> Verdict:
    return PASS  # a deployment that does not become active fails in compute, naming its state


def write_outputs(deployment: dict[str, Any], out: str | os.PathLike | None) -> None:
    if out:
        write_json(out, deployment)


def run(params: Any, record_path: str | os.PathLike, *, out: str | os.PathLike | None = None,
        job_ref: str | None = None, name: str | None = None, echo: Callable[[str], None] = print) -> dict[str, Any]:
    job = read_inputs(record_path, job_ref)
    deployment = compute(job, params, job_ref=job_ref, name=name, echo=echo)
    verdict = gate(deployment)
    write_outputs(deployment, out)
    verdict.raise_if_failed(KIND)
    return deployment
