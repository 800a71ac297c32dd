"""Serve a completed RFT job's model: create or update a custom model deployment, wait until Active.

The deployment ARN is the `modelId` for bedrock-runtime Converse (CreateCustomModelDeployment,
user guide "Set up inference for a custom model"). It is recorded in the job state, the job's
MLflow run and the `deploy` stage's own output (data/rft/deployment.json), which `evaluate`
reads. The rft stage's job record (data/rft/job.json) is never rewritten: DVC would see the
stage changed and check the record back out of its cache, losing the deployment.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rftlab import contracts
from rftlab.backends.bedrock import sync
from rftlab.backends.bedrock.commands import bedrock_state, make_backend
from rftlab.errors import InputError
from rftlab.jobs.state import JobState
from rftlab.tracking import tuned

log = logging.getLogger(__name__)

JOB_RECORD = Path("data/rft/job.json")
DEPLOYMENT_RECORD = Path("data/rft/deployment.json")


def deployment_name(state: JobState, configured: str | None) -> str:
    if configured:
        return configured
    base = re.sub(r"[^0-9a-zA-Z_-]+", "-", str(state.details.get("job_name") or state.job_id.rsplit("/", 1)[-1]))
    name = re.sub(r"[-_]{2,}", "-", base if base.startswith("rftlab-") else f"rftlab-{base}")
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
            tags=[{"key": contracts.JOB_ID, "value": state.job_id.rsplit("/", 1)[-1]}],
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


def deployment_record(state: JobState) -> dict[str, Any]:
    """What `evaluate` needs to reach the tuned model: the deployment ARN (Converse's modelId)."""
    return {"job_id": state.job_id, "backend": state.backend, "model": state.model_id,
            "deployment_arn": state.details.get("deployment_arn"), "deployment_name": state.details.get("deployment_name")}


def deploy_job(record: Mapping[str, Any], rft: Any, *, job_ref: str | None = None, name: str | None = None,
               echo: Callable[[str], None] = print) -> dict[str, Any]:
    """The deploy stage for a Bedrock job (by its record, or `job_ref`: an id or ARN): deploy, record the
    deployment on the job's MLflow run and registered model, return the stage's record."""

    backend = make_backend(rft, echo=echo)
    state = deploy(backend, bedrock_state(backend, job_ref or record["job_id"]), name=name)
    if backend.track:
        sync.record(backend, state, with_metrics=False)
        try:  # the deployment as metadata of the job's registered model (rftlab-style)
            tuned.record_deployment(state.job_id, state.details["deployment_arn"])
        except Exception as exc:
            log.warning("deployment not recorded on the tuned model: %s", exc)
    return deployment_record(state)
