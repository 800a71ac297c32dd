"""Run a local job inside its (new or reopened) MLflow run, keeping the state file true.

The run belongs to the job's execution (`rftlab.execution`, kept in the job state): a rerun of
the same state resumes its run; a state whose run is not in the current store (a new
MLFLOW_TRACKING_URI) gets a new run with the job's history replayed into it. Each step's metrics
are logged once (callback.py); `elapsed_s` is saved at every step, so durations add up across
resumes, a hard kill losing at most one step's time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from rftlab import contracts, tracking
from rftlab.backends.local.reward import GraderReward
from rftlab.backends.local.train import train
from rftlab.errors import RftlabError
from rftlab.io import file_md5
from rftlab.jobs.lineage import EXECUTION, replay
from rftlab.jobs.spec import JobSpec
from rftlab.jobs.state import JobState
from rftlab.progress import bar as progress_bar
from rftlab.tracking.naming import SPEC_HASH, job_run_name

log = logging.getLogger(__name__)


def profile_digest(grader: Any) -> str:
    profile = getattr(grader, "profile", None) or {}
    blob = json.dumps(profile, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.md5(blob.encode("utf-8")).hexdigest()


def run_params(spec: JobSpec, grader_version: str, profile_md5: str) -> dict[str, Any]:
    """Everything a reader compares jobs by, flat for MLflow."""
    digests = {"train_md5": file_md5(spec.train_path)}
    if spec.val_path:
        digests["val_md5"] = file_md5(spec.val_path)
    return {
        "backend": spec.backend,
        "base_model": spec.base_model,
        "seed": spec.seed,
        "grader_version": grader_version,
        "profile_md5": profile_md5,
        "prompts": digests,
        "hp": {k: v for k, v in spec.hyperparameters.items()},
        "local": {k: v for k, v in spec.options.items() if k != "lora"},
        "lora": spec.options.get("lora") or {},
    }


class _Execution:
    """One process's go at a job: its state file, progress bar and clock, kept current as steps finish."""

    def __init__(self, backend: Any, state: JobState, progress: bool) -> None:
        self.backend, self.store = backend, backend.store
        self.spec_hash = state.spec_hash
        self.state = state
        self.bar = progress_bar(state.details.get("max_steps") or None, desc=state.job_id, unit="step",
                                enabled=progress, initial=int(state.details.get("step") or 0))
        self.started, self.before = time.time(), float(state.details.get("elapsed_s", 0.0))

    def elapsed(self) -> float:
        return self.before + time.time() - self.started

    def save(self, **changes: Any) -> JobState:
        details = {**self.state.details, **changes.pop("details", {})}
        self.state = self.store.save(self.state.update(details=details, **changes))
        return self.state

    def stop_requested(self) -> bool:
        current = self.store.load(self.spec_hash)  # a stop request written by `rftlab job stop`
        return current is not None and current.status == "Stopping"

    def on_step(self, step: int, max_steps: int) -> None:
        self.bar.total = max_steps
        self.bar.update(step - self.bar.n)  # redraws on a terminal; elsewhere a line a minute (rftlab.progress)
        self.save(status="Stopping" if self.stop_requested() else self.state.status,
                  details={"step": step, "max_steps": max_steps, "elapsed_s": self.elapsed()})

    def interrupted(self) -> JobState:
        current = self.store.load(self.spec_hash) or self.state
        return self.save(status="Stopped" if current.status == "Stopping" else "InProgress",
                         details={"pid": None, "interrupted": True, "elapsed_s": self.elapsed()})

    def failed(self, exc: Exception) -> JobState:
        return self.save(status="Failed", failure_message=f"{type(exc).__name__}: {exc}",
                         details={"pid": None, "elapsed_s": self.elapsed()})

    def finished(self, result: dict[str, Any], model_dir: Path) -> JobState:
        secs = self.elapsed()
        final = self.state.update(status="Stopped" if result["stopped"] else "Completed", model_id=str(model_dir),
                                  duration_min=round(secs / 60.0, 4),
                                  details={**self.state.details, "pid": None, "elapsed_s": secs, "result": result})
        self.state = self.store.save(final.update(cost_usd=self.backend.cost(final)))
        return self.state


def _run_settings(backend: Any, state: JobState, spec: JobSpec, reward: Any) -> dict[str, Any]:
    """stage_run's arguments for the job's run: resumed (this execution's run) or new (params, tags, deps)."""
    execution = state.details["execution"]
    run_id = state.run_id if state.run_id and tracking.run_exists(state.run_id) else None
    if run_id is None and (found := tracking.find_runs(EXECUTION, execution)):
        run_id = found[0].info.run_id
    tags = {contracts.JOB_ID: state.job_id, contracts.BACKEND: backend.name, contracts.GRADER_VERSION: reward.version,
            EXECUTION: execution, SPEC_HASH: state.spec_hash}
    deps = {"train": spec.train_path, "grader": spec.grader_path, "base_model": spec.base_model}
    if spec.val_path:
        deps["val"] = spec.val_path
    return {"run_name": job_run_name(state.job_id, spec.hyperparameters, spec.backend), "run_id": run_id, "tags": tags,
            "params": None if run_id else run_params(spec, reward.version, profile_digest(reward.grader)), "deps": deps}


def _log_job_inputs(backend: Any, state: JobState, spec: JobSpec) -> None:
    """A new run's inputs: the prompt files as datasets, the spec, the grader manifest, earlier steps."""
    tracking.log_input_file(spec.train_path, name="train", context="training")
    if spec.val_path:
        tracking.log_input_file(spec.val_path, name="val", context="validation")
    tracking.log_dict(spec.model_dump(mode="json"), "job/spec.json")
    if Path(spec.grader_path).stat().st_size < 20_000_000:  # the grader manifest the job trained against
        tracking.log_artifact(spec.grader_path, "job/grader")
    replay(backend.metrics(state))  # steps trained before this store knew the job


def run_job(backend: Any, state: JobState, *, progress: bool = True) -> JobState:
    """Train (or resume) the job in this process; returns its final state."""
    spec = JobSpec.model_validate(state.details["spec"])
    job_dir = backend.job_dir(state)
    job_dir.mkdir(parents=True, exist_ok=True)
    reward = GraderReward(spec.grader_path)
    if not state.details.get("execution"):  # states written before executions were named
        state = backend.store.save(state.update(details={**state.details, "execution": uuid.uuid4().hex}))
    settings = _run_settings(backend, state, spec, reward)
    ex = _Execution(backend, state, progress)
    try:
        with Interrupts() as interrupts, tracking.stage_run(contracts.RFT_JOB, **settings) as run:
            if settings["params"] is not None:
                _log_job_inputs(backend, state, spec)
            logged = tracking.metric_points(run.info.run_id)
            ex.save(run_id=run.info.run_id, status="InProgress",
                    details={"pid": os.getpid(), "grader_version": reward.version})
            try:
                result = train(spec, job_dir, reward=reward, stop_requested=ex.stop_requested, on_step=ex.on_step,
                               logged=logged, interrupts=interrupts)
            except KeyboardInterrupt:
                ex.interrupted()
                raise
            except Exception as exc:  # the run ends FAILED via stage_run; the state says why
                ex.failed(exc)
                raise
            if result.get("interrupted"):  # checkpointed at the step the signal arrived
                ex.interrupted()
                raise KeyboardInterrupt("interrupted after a checkpoint")
            final = ex.finished(result, job_dir / "model")
            tracking.log_metrics({contracts.COST_USD: final.cost_usd, contracts.DURATION_MIN: final.duration_min,
                                  "steps": result["steps"]})
            tracking.set_tags({"rftlab.status": final.status})
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        if isinstance(exc, RftlabError | OSError) or ex.state.status != "Failed":
            raise
        raise JobFailed(f"job {state.job_id} failed: {ex.state.failure_message}") from exc
    finally:
        ex.bar.close()
    return ex.state


class Interrupts:
    """SIGINT/SIGTERM while training: the first one finishes the step, checkpoints it and stops (the
    job resumes from exactly there: nothing is trained or logged twice); a second one, or one outside
    the training loop, raises KeyboardInterrupt at once. Either way the run ends KILLED, the state
    stays resumable."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.graceful = False   # set by the trainer callback while steps run
        self.requested = False
        self.previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        if self.graceful and not self.requested:
            self.requested = True
            log.warning("signal %d: stopping after this step (checkpointed); send it again to stop at once", signum)
            return
        raise KeyboardInterrupt(f"signal {signum}")

    def __enter__(self) -> Interrupts:
        for sig in self.SIGNALS:
            try:
                self.previous[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread: signals stay as they were
                pass
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


class JobFailed(RftlabError):
    exit_code = 1
