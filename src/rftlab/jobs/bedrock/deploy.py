"""Serve a completed RFT job's model: create or update a custom model deployment, wait until Active.

The deployment ARN is the `modelId` for bedrock-runtime Converse, so it is written back
into the job state, the job record (data/rft/job.json) and the job's MLflow run, where
the evaluation stage picks it up.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

from rftlab.errors import InputError
from rftlab.jobs.state import JobState

log = logging.getLogger(__name__)

JOB_RECORD = Path("data/rft/job.json")


def deployment_name(state: JobState, configured: str | None) -> str:
    if configured:
        return configured
    base = re.sub(r"[^0-9a-zA-Z_-]+", "-", str(state.details.get("job_name") or state.job_id.rsplit("/", 1)[-1]))
    name = re.sub(r"[-_]{2,}", "-", f"rftlab-{base}")
    return name[:63].strip("-_")


def _find(backend: Any, name: str) -> dict[str, Any] | None:
    out = backend.call("list_custom_model_deployments", "listing custom model deployments", nameContains=name)
    hits = [d for d in out.get("modelDeploymentSummaries", []) if d.get("customModelDeploymentName") == name]
    if not hits:
        return None
    arn = hits[0]["customModelDeploymentArn"]
    return backend.call("get_custom_model_deployment", f"reading deployment {name}", customModelDeploymentIdentifier=arn)


def deploy(backend: Any, state: JobState, *, name: str | None = None, timeout_polls: int = 240) -> JobState:
    """Create (or point an existing deployment at) the job's model; wait for Active; record the ARN."""
    if state.backend != "bedrock":
        raise InputError(f"job {state.job_id} ran on the {state.backend} backend: only Bedrock jobs are deployed "
                         "(a local model is evaluated straight from data/rft/model)")
    state = backend.refresh(state)
    if state.status != "Completed" or not state.model_id:
        raise InputError(f"job {state.job_id} is {state.status}: only a Completed job's model can be deployed")
    name = deployment_name(state, name or backend.b.deployment_name)
    current = _find(backend, name)
    if current is None:
        token = "rftlab-" + hashlib.sha256(f"{name}|{state.model_id}".encode()).hexdigest()[:48]
        arn = backend.call(
            "create_custom_model_deployment", f"creating deployment {name}", modelDeploymentName=name,
            modelArn=state.model_id, clientRequestToken=token,
            description=f"rftlab RFT job {state.details.get('job_name') or state.job_id}",
            tags=[{"key": "rftlab.job_id", "value": state.job_id.rsplit("/", 1)[-1]}],
        )["customModelDeploymentArn"]
        backend.echo(f"creating deployment {name}: {arn}")
    else:
        arn = current["customModelDeploymentArn"]
        if current.get("modelArn") != state.model_id:
            backend.call("update_custom_model_deployment", f"updating deployment {name}",
                         modelArn=state.model_id, customModelDeploymentIdentifier=arn)
            backend.echo(f"updating deployment {name} to {state.model_id}")
        else:
            backend.echo(f"deployment {name} already serves this model")
    _wait_active(backend, arn, timeout_polls)
    state = backend.store.save(state.update(details={**state.details, "deployment_arn": arn,
                                                     "deployment_name": name}))
    update_job_record(state)
    return state


def _wait_active(backend: Any, arn: str, timeout_polls: int) -> dict[str, Any]:
    interval = min(backend.b.poll_s, 30.0)
    for _ in range(timeout_polls):
        d = backend.call("get_custom_model_deployment", f"reading deployment {arn}", customModelDeploymentIdentifier=arn)
        update = (d.get("updateDetails") or {}).get("updateStatus")
        if d["status"] == "Failed" or update == "UpdateFailed":
            raise InputError(f"deployment {arn} failed: {d.get('failureMessage') or 'no message'}")
        if d["status"] == "Active" and update in (None, "UpdateCompleted"):
            backend.echo(f"deployment Active: {arn}")
            return d
        backend.echo(f"deployment {d['status']}{f' ({update})' if update else ''} ...")
        backend.sleep(interval)
    raise InputError(f"deployment {arn} not Active after {timeout_polls} polls; check it with `rftlab job status`")


def update_job_record(state: JobState, path: str | Path | None = None) -> bool:
    """Add `deployment_arn` to data/rft/job.json when it describes this job; True when written."""
    from rftlab.config import project_root
    from rftlab.io import read_json, write_json

    p = Path(path) if path else project_root() / JOB_RECORD
    if not p.exists():
        return False
    record = read_json(p)
    if record.get("job_id") != state.job_id:
        return False
    record["deployment_arn"] = state.details.get("deployment_arn")
    record["model_id"] = state.model_id or record.get("model_id")
    write_json(p, record)
    return True
