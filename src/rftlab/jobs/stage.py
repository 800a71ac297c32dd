"""The `rft` stage: build the job spec from params, find-or-submit the job, wait, record it."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from rftlab.errors import InputError, RftlabError
from rftlab.io import file_md5, write_json
from rftlab.jobs.spec import JobSpec
from rftlab.jobs.state import JobState

log = logging.getLogger(__name__)

DEFAULT_BASE_MODEL = "data/models/base"


class JobNotCompleted(RftlabError):
    exit_code = 1


def build_spec(rft: Any, *, train: str, val: str | None, grader: str, base_model: str | None = None) -> JobSpec:
    """The job spec from the `rft` params section (options: only what changes the result).

    A Bedrock id in `rft.base_model` (or --base-model) picks its API: Nova ids go to
    CreateModelCustomizationJob (backend bedrock), open-weight ids to the OpenAI-compatible
    fine-tuning API (backend openai), whichever remote backend rft.backend names.
    """
    backend = rft.backend
    requested = base_model or rft.base_model
    if backend != "local" and requested and not Path(requested).exists():
        from rftlab.jobs.bedrock.models import rft_api

        backend = rft_api(requested, "--base-model" if base_model else "rft.base_model")
    if backend == "local":
        model = base_model or rft.base_model or DEFAULT_BASE_MODEL
        if not Path(model).exists():
            raise InputError(f"{model}: base model folder not found (run `rftlab base-model` or set rft.base_model)")
        loc = rft.local
        options: dict[str, Any] = {"max_steps": loc.max_steps, "beta": loc.beta, "temperature": loc.temperature,
                                   "per_device_max": loc.per_device_max, "val_prompts": loc.val_prompts}
        if loc.lora.enabled:
            options["lora"] = loc.lora.model_dump()
    elif backend == "openai":
        model = requested or rft.openai.base_model_id
        options = {"region": rft.openai.region}
        endpoint = rft.openai.endpoint or os.environ.get("OPENAI_BASE_URL")  # another endpoint: another job
        if endpoint:
            options["endpoint"] = endpoint
    else:
        model = requested or rft.bedrock.base_model_id
        options = {"region": rft.bedrock.region}
        # a job run against another endpoint (the offline rehearsal's stand-in) is another job: its
        # state never answers for the real account's job with the same inputs
        endpoint = os.environ.get("AWS_ENDPOINT_URL_BEDROCK") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            options["endpoint"] = endpoint
        from rftlab.jobs.bedrock.invocation_logs import from_params

        logs = from_params(rft.bedrock)
        if logs:  # trained on invocation logs: part of what the job is (spec hash) and its lineage
            options["invocation_logs"] = logs
    for name, path in (("train", train), ("val", val), ("grader", grader)):
        if path and not Path(path).exists():
            raise InputError(f"{path}: {name} file not found")
    return JobSpec(backend=backend, base_model=str(model), train_path=str(train), val_path=str(val) if val else None,
                   grader_path=str(grader), hyperparameters=rft.hyperparameters_for(backend).model_dump(), seed=rft.seed,
                   options=options)


def summarize(history: list[tuple[int, dict[str, float]]]) -> dict[str, float]:
    """Headline numbers from step metrics: first/last reward, base and final validation reward."""
    out: dict[str, float] = {}
    train = [(s, m["train/reward_mean"]) for s, m in history if "train/reward_mean" in m]
    val = [(s, m["val/reward_mean"]) for s, m in history if "val/reward_mean" in m]
    if train:
        out["train_reward_first"], out["train_reward_last"] = train[0][1], train[-1][1]
        out["steps"] = float(train[-1][0])
    if val:
        out["val_reward_base"], out["val_reward_final"] = val[0][1], val[-1][1]
        if val[0][0] == 0 and val[0][1] > 0:
            out["val_uplift_pct"] = 100.0 * (val[-1][1] - val[0][1]) / val[0][1]
    return out


def copy_model(src: str | Path, dst: str | Path) -> None:
    from rftlab.jobs.local.base_model import atomic_dir

    with atomic_dir(Path(dst)) as tmp:
        shutil.copytree(src, tmp, dirs_exist_ok=True)


def run_rft(params: Any, *, train: str, val: str | None, grader: str, job_out: str, model_out: str,
            metrics_out: str | None, base_model: str | None = None, progress: bool = True,
            retry: bool = False) -> JobState:
    """Find-or-submit the job for these inputs, wait for it, write job record, model and metrics."""
    from rftlab.jobs.base import get_backend

    rft = params.rft
    spec = build_spec(rft, train=train, val=val, grader=grader, base_model=base_model)
    backend = get_backend(spec.backend, rft)  # the routed backend (build_spec), not always rft.backend
    state = backend.submit(spec)
    if state.status in ("Failed", "Stopped"):
        if not retry:
            why = f": {state.failure_message}" if state.failure_message else ""
            raise JobNotCompleted(f"job {state.job_id} is {state.status}{why} (rerun with --retry to resume it)")
        if hasattr(backend, "relaunch"):  # Bedrock: a failed remote job cannot resume; launch the next attempt
            state = backend.relaunch(spec)
        else:
            state = backend.store.save(state.update(status="InProgress", failure_message=None))
    log.info("job %s (%s)", state.job_id, state.status)
    state = backend.wait(state, progress=progress)
    if state.status != "Completed":
        raise JobNotCompleted(f"job {state.job_id} ended {state.status}: {state.failure_message or 'no model'}")
    history = backend.metrics(state)
    model_id = backend.model_id(state)
    if spec.backend == "local" and model_id:
        if not Path(model_id).is_dir():
            raise InputError(f"job {state.job_id} is Completed but its model folder {model_id} is gone; delete "
                             f"{backend.store.path(state.spec_hash)} and rerun `dvc repro rft` to train it again")
        copy_model(model_id, model_out)
        model_id = relative(model_out)  # the job's own folder is untracked state (.rftlab/jobs/)
    else:
        write_json(Path(model_out) / "model_id.json", {"model_id": model_id, "job_id": state.job_id})
    record = job_record(state, spec, history, model_id=model_id, model_out=model_out,
                        paths={"grader_path": grader, "train_path": train, "val_path": val})
    from rftlab.jobs.lineage import ensure_state_run

    state = ensure_state_run(backend, state, record, history)  # a state from another MLflow store: re-linked
    write_json(job_out, record)
    if metrics_out:
        write_json(metrics_out, {**{k: record[k] for k in ("cost_usd", "duration_min") if k in record},
                                 **record["metrics"]})
    log.info("job %s: %.1f min, $%.2f (estimate); MLflow run %s", state.job_id, state.duration_min, state.cost_usd,
             state.run_id)
    return state


def relative(path: str | Path | None) -> str | None:
    """A path as the record keeps it: relative to the project when inside it (never this machine's layout)."""
    if path is None:
        return None
    from rftlab.config import project_root

    p = Path(path)
    if p.is_absolute() and p.resolve().is_relative_to(project_root()):
        return p.resolve().relative_to(project_root()).as_posix()
    return p.as_posix()


def job_record(state: JobState, spec: JobSpec, history: list[tuple[int, dict[str, float]]], *, model_id: str | None,
               model_out: str, paths: dict[str, str | None]) -> dict[str, Any]:
    """data/rft/job.json: what the job is and what it gave, a function of the stage's inputs alone.

    No MLflow run id (runs belong to one store: the run is found by `rftlab.job_id`, see
    rftlab.jobs.lineage), no absolute path, no wall-time duration or cost (MLflow and
    .rftlab/jobs/ hold those), so a fresh clone's `dvc repro` writes the same bytes.
    """
    from rftlab.jobs.lineage import curves

    train, val = paths["train_path"], paths.get("val_path")
    return {
        "job_id": state.job_id, "backend": state.backend, "status": state.status, "spec_hash": state.spec_hash,
        "base_model": relative(spec.base_model) if Path(spec.base_model).exists() else spec.base_model,
        "model_id": model_id, "model_path": relative(model_out) if spec.backend == "local" else None,
        "grader_path": relative(paths["grader_path"]),
        "grader_version": state.details.get("grader_version") or _grader_version(state),
        "train_path": relative(train), "val_path": relative(val),
        "prompts_digest": {"train": file_md5(str(train)), **({"val": file_md5(val)} if val else {})},
        "hyperparameters": spec.hyperparameters, "metrics": summarize(history), "curves": curves(history),
        # a remote job's duration and cost are the job's own (AWS's timestamps), the same on every rerun;
        # a local job's are this machine's wall time: MLflow and .rftlab/jobs/ only
        **({} if state.backend == "local" else {"cost_usd": state.cost_usd, "duration_min": state.duration_min}),
    }


def _grader_version(state: JobState) -> str | None:
    if not state.run_id:
        return None
    from rftlab import tracking

    runs = tracking.find_runs(tracking.JOB_ID, state.job_id, kind="rft-job")
    return runs[0].data.tags.get(tracking.GRADER_VERSION) if runs else None
