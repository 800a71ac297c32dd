"""The `rft` stage (dvc.yaml `rft`): find or submit the job for these inputs, follow it to its end, and
record what it gave. Shape: rftlab.stage (docs/architecture.md).

The job is keyed by its spec hash (rftlab.jobs.spec): an interrupted `dvc repro` resumes the same job
and MLflow run instead of starting another. Its record is the job's own `rft-job` run, kept up to date
by the backend while the job runs (step metrics as they arrive); this stage adds the tuned model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rftlab import contracts, plugins, tracking
from rftlab.errors import RftlabError
from rftlab.headline import write_headline
from rftlab.io import file_md5, relative_to_project, write_json
from rftlab.jobs.curves import write_curves
from rftlab.jobs.lineage import curves, ensure_state_run, find_job_run
from rftlab.jobs.spec import JobSpec, build_spec
from rftlab.jobs.state import JobState
from rftlab.stage import PASS, Verdict
from rftlab.tracking import experiment, tuned

log = logging.getLogger(__name__)
KIND = contracts.RFT_JOB


class JobNotCompleted(RftlabError):
    exit_code = 1


@dataclass(frozen=True)
class Paths:
    train: str
    val: str | None
    grader: str
    job_out: str
    model_out: str
    metrics: str | None = None
    headline: str | None = None
    curves: str | None = None


@dataclass
class Inputs:
    spec: JobSpec
    plugin: plugins.BackendPlugin
    backend: Any


@dataclass
class Result:
    state: JobState
    history: list[tuple[int, dict[str, float]]]
    record: dict[str, Any] | None = None


def read_inputs(params: Any, paths: Paths, base_model: str | None) -> Inputs:
    spec = build_spec(params.rft, train=paths.train, val=paths.val, grader=paths.grader, base_model=base_model)
    plugin = plugins.backend(spec.backend)  # the routed backend (build_spec), not always rft.backend
    return Inputs(spec, plugin, plugin.create(params.rft))


def compute(inputs: Inputs, *, progress: bool, retry: bool) -> Result:
    """The job, submitted or found again, followed until it ends Completed (else JobNotCompleted)."""
    backend = inputs.backend
    state = backend.submit(inputs.spec)
    if state.status in ("Failed", "Stopped"):
        if not retry:
            why = f": {state.failure_message}" if state.failure_message else ""
            raise JobNotCompleted(f"job {state.job_id} is {state.status}{why} (rerun with --retry to resume it)")
        if hasattr(backend, "relaunch"):  # a remote job that failed cannot resume: the backend launches the next attempt
            state = backend.relaunch(inputs.spec)
        else:
            state = backend.store.save(state.update(status="InProgress", failure_message=None))
    log.info("job %s (%s)", state.job_id, state.status)
    state = backend.wait(state, progress=progress)
    if state.status != "Completed":
        raise JobNotCompleted(f"job {state.job_id} ended {state.status}: {state.failure_message or 'no model'}")
    return Result(state, backend.metrics(state))


def gate(result: Result) -> Verdict:
    return PASS  # a job that did not complete stops the stage in compute; the preflight gated it before


def summarize(history: list[tuple[int, dict[str, float]]]) -> dict[str, float]:
    """Headline numbers from step metrics: first/last reward, base and final validation reward."""
    out: dict[str, float] = {}
    train = [(s, m[contracts.TRAIN_REWARD_MEAN]) for s, m in history if contracts.TRAIN_REWARD_MEAN in m]
    val = [(s, m[contracts.VAL_REWARD_MEAN]) for s, m in history if contracts.VAL_REWARD_MEAN in m]
    if train:
        out["train_reward_first"], out["train_reward_last"] = train[0][1], train[-1][1]
        out["steps"] = float(train[-1][0])
    if val:
        out["val_reward_base"], out["val_reward_final"] = val[0][1], val[-1][1]
        if val[0][0] == 0 and val[0][1] > 0:
            out["val_uplift_pct"] = 100.0 * (val[-1][1] - val[0][1]) / val[0][1]
    return out


def job_record(state: JobState, spec: JobSpec, history: list[tuple[int, dict[str, float]]], *,
               model: dict[str, Any], extra: dict[str, Any], paths: Paths) -> dict[str, Any]:
    """data/rft/job.json: what the job is and what it gave, a function of the stage's inputs alone.

    No MLflow run id (runs belong to one store: the run is found by `rftlab.job_id`, see
    rftlab.jobs.lineage), no absolute path, no wall-time duration or cost (MLflow and
    .rftlab/jobs/ hold those), so a fresh clone's `dvc repro` writes the same bytes.
    """
    return {
        "job_id": state.job_id, "backend": state.backend, "status": state.status, "spec_hash": state.spec_hash,
        "base_model": relative_to_project(spec.base_model) if Path(spec.base_model).exists() else spec.base_model,
        "model_id": model["model_id"], "model_path": model["model_path"],
        "grader_path": relative_to_project(paths.grader),
        "grader_version": state.details.get("grader_version") or _grader_version(state),
        "train_path": relative_to_project(paths.train), "val_path": relative_to_project(paths.val),
        "prompts_digest": {"train": file_md5(paths.train), **({"val": file_md5(paths.val)} if paths.val else {})},
        "hyperparameters": spec.hyperparameters, "metrics": summarize(history), "curves": curves(history),
        # a remote job's duration and cost are the job's own (its service's timestamps), the same on every
        # rerun; a job on this machine has wall time only: MLflow and .rftlab/jobs/ (the plugin decides)
        **extra,
    }


def _grader_version(state: JobState) -> str | None:
    if not state.run_id:
        return None
    runs = tracking.find_runs(contracts.JOB_ID, state.job_id, kind=KIND)
    return runs[0].data.tags.get(contracts.GRADER_VERSION) if runs else None


def write_outputs(result: Result, inputs: Inputs, paths: Paths) -> None:
    """The tuned model (or what names it), the job record, metrics, headline and reward curves."""
    model = inputs.plugin.export_model(inputs.backend, result.state, Path(paths.model_out))
    record = job_record(result.state, inputs.spec, result.history, model=model,
                        extra=inputs.plugin.record_fields(result.state), paths=paths)
    result.record = record
    write_json(paths.job_out, record)
    if paths.metrics:
        write_json(paths.metrics, {**{k: record[k] for k in (contracts.COST_USD, contracts.DURATION_MIN) if k in record},
                                   **record["metrics"]})
    if paths.headline:
        write_headline(paths.headline, "rft", record["metrics"])
    if paths.curves:
        write_curves(paths.curves, record)


def record(result: Result, inputs: Inputs, params: Any, paths: Paths) -> None:
    """The job's run linked (a state from another MLflow store gets one), its tuned model logged and
    registered as `rftlab-style`, the RFT jobs view refreshed. A store that refuses the model is a
    warning: the job record stays the stage's result."""
    assert result.record is not None
    result.state = ensure_state_run(inputs.backend, result.state, result.record, result.history)
    if params.tracking.register_models:
        try:
            run = find_job_run(result.record["job_id"])
            tuned.log_tuned_model(result.record, run_id=run.info.run_id if run else None,
                                  model_dir=inputs.plugin.weights_dir(result.record, Path(paths.model_out)),
                                  tags=inputs.plugin.model_tags(result.record))
        except Exception as exc:
            log.warning("tuned model not logged to MLflow: %s", exc)
        experiment.refresh()


def run(params: Any, paths: Paths, *, base_model: str | None = None, progress: bool = True,
        retry: bool = False) -> JobState:
    """Run the stage; returns the job's final state."""
    inputs = read_inputs(params, paths, base_model)
    result = compute(inputs, progress=progress, retry=retry)
    verdict = gate(result)
    write_outputs(result, inputs, paths)
    record(result, inputs, params, paths)
    verdict.raise_if_failed("rft")
    state = result.state
    log.info("job %s: %.1f min, $%.2f (estimate); MLflow run %s", state.job_id, state.duration_min, state.cost_usd,
             state.run_id)
    return state
