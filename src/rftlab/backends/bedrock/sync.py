"""Bedrock RFT jobs -> MLflow: one run per job, found again by `rftlab.job_id` = job ARN.

Used by `rftlab job sync` (jobs launched anywhere: console, another machine) and while
`rftlab job wait` follows a Bedrock job. Re-syncing updates the same run: params only
once, step metrics only past the last imported step (kept in a run tag).
"""

from __future__ import annotations

import logging
from typing import Any

from rftlab import contracts, tracking
from rftlab.aws import AwsError
from rftlab.backends.bedrock.invocation_logs import lineage
from rftlab.jobs.state import JobState
from rftlab.tracking.naming import new_run_name

log = logging.getLogger(__name__)

LAST_STEP = "rftlab.metrics_last_step"  # + ".train" / ".val": one per metrics CSV kind
RUN_STATUS = {"Completed": "FINISHED", "Failed": "FAILED", "Stopped": "KILLED"}


def _params(state: JobState) -> dict[str, Any]:
    d = state.details
    hp = d.get("hyperparameters") or {}
    out: dict[str, Any] = {f"hp.{k}": v for k, v in hp.items()}
    digests = (d.get("prompts_digest") or "").split("+")
    out.update({"backend": "bedrock", "base_model": d.get("base_model") or d.get("base_model_arn"),
                "job_name": d.get("job_name"), "grader_lambda_arn": d.get("lambda_arn"), "region": d.get("region"),
                "grader_version": d.get("grader_version"), "grader_deployment": d.get("grader_deployment"),
                "seed": d.get("seed"), "prompts.train_md5": digests[0] or None,
                "prompts.val_md5": digests[1] if len(digests) > 1 else None})
    logs = ((d.get("request") or {}).get("trainingDataConfig") or {}).get("invocationLogsConfig")
    if logs:  # lineage: the job trained on invocation logs (location, filters), not on the prompts file

        out.update(lineage(logs))
        out.pop("prompts.train_md5", None)
    return {k: v for k, v in out.items() if v is not None}


def record(backend: Any, state: JobState, *, with_metrics: bool = True) -> JobState:
    """Create or update the job's MLflow run; returns the state with `run_id` set (and saved)."""
    runs = tracking.find_runs(contracts.JOB_ID, state.job_id, kind=contracts.RFT_JOB)
    run_id = state.run_id or (runs[0].info.run_id if runs else None)
    if run_id and not any(r.info.run_id == run_id for r in runs):
        run_id = runs[0].info.run_id if runs else None
    existing = tracking.get_run(run_id) if run_id else None
    old_params = dict(existing.data.params) if existing else {}
    old_tags = dict(existing.data.tags) if existing else {}
    d = state.details
    tags = {contracts.JOB_ID: state.job_id, contracts.BACKEND: "bedrock", "rftlab.job_status": state.status,
            contracts.SPEC_HASH: state.spec_hash}
    if d.get("grader_version"):
        tags[contracts.GRADER_VERSION] = d["grader_version"]
    if state.model_id:
        tags["rftlab.model_id"] = state.model_id
    if d.get("deployment_arn"):
        tags["rftlab.deployment_arn"] = d["deployment_arn"]
    if state.failure_message:
        tags["rftlab.failure_message"] = state.failure_message[:5000]
    sources: dict[str, list[tuple[int, dict[str, float]]]] = {}
    if with_metrics:
        try:
            sources = backend.metric_sources(state)
        except AwsError as exc:  # unreadable outputs must not stop status/cost from being recorded
            log.warning("step metrics of %s not imported: %s", state.job_id, exc)
            tags["rftlab.metrics_error"] = str(exc)[:500]
    fresh: dict[str, list[tuple[int, dict[str, float]]]] = {}
    for kind, rows in sources.items():  # each CSV has its own high-water mark: a late file is not skipped
        last = old_tags.get(f"{LAST_STEP}.{kind}")
        fresh[kind] = [r for r in rows if last in (None, "") or r[0] > int(last)]
    with tracking.stage_run(contracts.RFT_JOB, run_id=run_id, run_name=None if run_id else new_run_name(d.get("job_name")),
                            tags=tags) as run:
        new_params = {k: v for k, v in _params(state).items() if k not in old_params}
        if new_params:
            tracking.log_params(new_params)
        if existing is None and d.get("request"):
            tracking.log_dict(d["request"], "job/request.json")
        for kind, rows in fresh.items():
            for step, values in rows:
                tracking.log_metrics(values, step=step)
            if rows:
                tracking.set_tags({f"{LAST_STEP}.{kind}": rows[-1][0]})
        final = {contracts.COST_USD: state.cost_usd, contracts.DURATION_MIN: state.duration_min,
                 **(d.get("summary_metrics") or {})}
        if d.get("estimate"):
            final["cost_estimate_usd"] = d["estimate"].get("total_usd")
        tracking.log_metrics(final)
        run_id = run.info.run_id
    if state.status in RUN_STATUS and RUN_STATUS[state.status] != "FINISHED":
        tracking.set_run_status(run_id, RUN_STATUS[state.status])
    newest = latest_reward(fresh)
    if state.run_id != run_id or newest:
        details = {**state.details, "last_reward": newest} if newest else state.details
        state = backend.store.save(state.update(run_id=run_id, details=details))
    log.info("synced %s into MLflow run %s (%d new rows)", state.job_id, run_id, sum(map(len, fresh.values())))
    return state


def latest_reward(sources: dict[str, list[tuple[int, dict[str, float]]]]) -> dict[str, float] | None:
    """The newest training reward among freshly imported rows, for the progress line: {step, reward}."""
    rows = [(step, values[contracts.TRAIN_REWARD_MEAN]) for rows in sources.values() for step, values in rows
            if contracts.TRAIN_REWARD_MEAN in values]
    if not rows:
        return None
    step, reward = max(rows)
    return {"step": step, "reward": reward}


def rft_jobs(backend: Any) -> list[dict[str, Any]]:
    """Every RFT job summary in the account/region (paginated, fine-tuning jobs filtered out)."""
    out: list[dict[str, Any]] = []
    token = None
    while True:
        kw: dict[str, Any] = {"maxResults": 100, "sortBy": "CreationTime", "sortOrder": "Descending"}
        if token:
            kw["nextToken"] = token
        page = backend.call("list_model_customization_jobs", "listing model customization jobs", **kw)
        out += [j for j in page.get("modelCustomizationJobSummaries", [])
                if j.get("customizationType") == "REINFORCEMENT_FINE_TUNING"]
        token = page.get("nextToken")
        if not token:
            return out


def sync(backend: Any, job_arn: str | None = None) -> list[JobState]:
    """Sync one job (by ARN) or, with None, every RFT job; returns the synced states."""
    arns = [job_arn] if job_arn else [j["jobArn"] for j in rft_jobs(backend)]
    synced = []
    for arn in arns:
        synced.append(record(backend, backend.adopt(arn)))
    return synced
