"""Open-weight jobs -> MLflow: one `rft-job` run per job, found again by `rftlab.job_id` = the job id.

The run carries what makes it a comparable row next to Nova and local jobs (docs/contracts.md):
backend (`bedrock_open_weight`), `base_model`, grader version, prompt digests, the hyperparameters under the
API's names (`hp.n_epochs`, `hp.batch_size`, `hp.learning_rate_multiplier`) and, where they mean
the same thing, under the common names (`hp.epochCount`, `hp.batchSize`); step metrics from the
job's metrics events under the stable names (events.py); cost, duration, the checkpoints and the
resulting model. Re-recording updates the same run: params once, events past the last step only.
"""

from __future__ import annotations

import logging
from typing import Any

from rftlab import contracts, tracking
from rftlab.backends.bedrock.open_weight import events as ev
from rftlab.backends.bedrock.open_weight.api import ApiError
from rftlab.backends.bedrock.open_weight.launch import common_names
from rftlab.jobs.state import JobState
from rftlab.tracking.naming import new_run_name

log = logging.getLogger(__name__)

LAST_STEP = "rftlab.metrics_last_step.train"
RUN_STATUS = {"Completed": "FINISHED", "Failed": "FAILED", "Stopped": "KILLED"}


def params_of(state: JobState) -> dict[str, Any]:
    d = state.details
    hp = d.get("hyperparameters") or {}
    digests = (d.get("prompts_digest") or "").split("+")
    out: dict[str, Any] = {f"hp.{k}": v for k, v in {**hp, **common_names(hp)}.items()}
    out.update({"backend": state.backend, "api": "openai-compatible fine-tuning", "base_model": d.get("base_model"),
                "grader_lambda_arn": d.get("lambda_arn"), "region": d.get("region"),
                "grader_version": d.get("grader_version"), "grader_deployment": d.get("grader_deployment"),
                "training_file": d.get("training_file"), "validation_file": d.get("validation_file"),
                "seed": d.get("seed"), "prompts.train_md5": digests[0] or None,
                "prompts.val_md5": digests[1] if len(digests) > 1 else None})
    return {k: v for k, v in out.items() if v is not None}


def record(backend: Any, state: JobState) -> JobState:
    """Create or update the job's MLflow run; returns the state with `run_id` (and step) set and saved."""
    runs = tracking.find_runs(contracts.JOB_ID, state.job_id, kind=contracts.RFT_JOB)
    run_id = state.run_id if any(r.info.run_id == state.run_id for r in runs) else (
        runs[0].info.run_id if runs else None)
    existing = tracking.get_run(run_id) if run_id else None
    old_params = dict(existing.data.params) if existing else {}
    last = (existing.data.tags.get(LAST_STEP) if existing else None) or None
    tags = {contracts.JOB_ID: state.job_id, contracts.BACKEND: state.backend, "rftlab.job_status": state.status,
            contracts.SPEC_HASH: state.spec_hash, "rftlab.api_status": state.details.get("api_status") or ""}
    if state.details.get("grader_version"):
        tags[contracts.GRADER_VERSION] = state.details["grader_version"]
    if state.model_id:
        tags["rftlab.model_id"] = state.model_id
    if state.failure_message:
        tags["rftlab.failure_message"] = state.failure_message[:5000]
    rows: list[tuple[int, dict[str, float]]] = []
    total = None
    try:
        events = backend.api(state).events(state.job_id)
        rows, total = ev.metric_rows(events), ev.total_steps(events)
    except ApiError as exc:  # unreadable events must not stop status and cost from being recorded
        log.warning("metrics events of %s not imported: %s", state.job_id, exc)
        tags["rftlab.metrics_error"] = str(exc)[:500]
    fresh = [r for r in rows if last is None or r[0] > int(last)]
    with tracking.stage_run(contracts.RFT_JOB, run_id=run_id, run_name=None if run_id else new_run_name(f"open-weight-{state.job_id}"),
                            tags=tags) as run:
        new_params = {k: v for k, v in params_of(state).items() if k not in old_params}
        if new_params:
            tracking.log_params(new_params)
        if existing is None and state.details.get("request"):
            tracking.log_dict(state.details["request"], "job/request.json")
        for step, values in fresh:
            tracking.log_metrics(values, step=step)
        if fresh:
            tracking.set_tags({LAST_STEP: fresh[-1][0]})
        if state.done and state.details.get("checkpoints") is not None:
            tracking.log_dict({"checkpoints": state.details["checkpoints"], "fine_tuned_model": state.model_id},
                              "job/checkpoints.json")
        final = {contracts.COST_USD: state.cost_usd, contracts.DURATION_MIN: state.duration_min}
        if state.details.get("estimate"):
            final["cost_estimate_usd"] = state.details["estimate"].get("total_usd")
        tracking.log_metrics(final)
        run_id = run.info.run_id
    if state.status in RUN_STATUS and RUN_STATUS[state.status] != "FINISHED":
        tracking.set_run_status(run_id, RUN_STATUS[state.status])
    step = rows[-1][0] if rows else state.details.get("step")
    if state.run_id != run_id or step != state.details.get("step") or total != state.details.get("total_steps"):
        state = backend.store.save(state.update(run_id=run_id, details={**state.details, "step": step,
                                                                         "total_steps": total}))
    return state
