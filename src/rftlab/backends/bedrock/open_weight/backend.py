"""The open-weight backend: launch, follow (backoff, resumable), stop, cost, metrics, through api.py.

One job per spec, even across a crash: the state file (one per spec hash) records the job id as soon
as the create call returns; a crash before that is healed on the rerun by finding the job created
with this spec's training file (its name carries the spec hash and attempt: launch.file_name), so a
rerun never creates a second job. The API has no idempotency token and no suffix (launch.py).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from rftlab.backends.bedrock.open_weight import events as ev
from rftlab.backends.bedrock.open_weight import launch as ow_launch
from rftlab.backends.bedrock.open_weight import record
from rftlab.backends.bedrock.open_weight.api import Api
from rftlab.errors import InputError
from rftlab.jobs import cost
from rftlab.jobs.remote import RemoteBackend
from rftlab.jobs.spec import JobSpec
from rftlab.jobs.state import JobState, StateStore, default_store, now_iso

NAME = "bedrock_open_weight"


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class OpenWeightBackend(RemoteBackend):
    """Backend protocol implementation for Bedrock's OpenAI-compatible fine-tuning API (params = `rft`)."""

    stop_verb = "cancelling"
    name = NAME

    def __init__(self, params: Any, *, store: StateStore | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, echo: Callable[[str], None] = _stderr,
                 image_uri: str | None = None, attempt: int = 0, track: bool = True, api: Api | None = None) -> None:
        self.rft = params
        self.o = params.section(NAME)
        self.store = store or default_store()
        self.sleep, self.clock, self.echo = sleep, clock, echo
        self.image_uri = image_uri
        self.attempt = attempt
        self.track = track
        self._api = api

    def api(self, state_or_spec: Any = None) -> Api:
        if self._api is None:
            opts = getattr(state_or_spec, "options", None) or (getattr(state_or_spec, "details", None) or {})
            self._api = Api(self.o, endpoint=opts.get("endpoint"))
        return self._api

    # ------------------------------------------------------------------ protocol
    def submit(self, spec: JobSpec) -> JobState:
        """Launch (or find again) the job for this spec; never creates a second job for it."""
        spec_hash = spec.spec_hash()
        existing = self.store.load(spec_hash)
        if existing and not (self.attempt > int(existing.details.get("attempt", 0)) and existing.done):
            self.echo(f"job for this spec already exists: {existing.job_id} ({existing.status})")
            return self._record(self.status(existing))
        ow_launch.check(spec, self.rft)  # every local check before the API key is even looked for
        api = self.api(spec)
        launch = ow_launch.prepare(spec, self.rft, api, attempt=self.attempt, image_uri=self.image_uri,
                                   echo=self.echo, sleep=self.sleep)
        job = self._find(api, launch)
        if job:
            self.echo(f"found the job created earlier for this spec: {job['id']}")
        else:
            job = api.create_job(launch.model, launch.train_file, ow_launch.method(launch.lambda_arn,
                                 launch.hyperparameters), validation_file=launch.val_file)
            self.echo(f"launched {job['id']} (estimated ${launch.estimate.get('total_usd', 0):,.2f}, an estimate)")
        state = JobState(job_id=str(job["id"]), spec_hash=spec_hash, backend=self.name, details={
            "base_model": launch.model, "training_file": launch.train_file, "validation_file": launch.val_file,
            "hyperparameters": launch.hyperparameters, "lambda_arn": launch.lambda_arn,
            "grader_version": launch.grader_version, "grader_deployment": launch.grader_deployment,
            "estimate": launch.estimate, "smoke_test": launch.smoke, "region": self.o.region,
            "endpoint": spec.options.get("endpoint"), "attempt": self.attempt, "seed": spec.seed,
            "prompts_digest": "+".join(spec.input_digests()[k] for k in ("train", "val") if k in spec.input_paths()),
            "request": {"model": launch.model, "training_file": launch.train_file,
                        "method": ow_launch.method(launch.lambda_arn, launch.hyperparameters),
                        **({"validation_file": launch.val_file} if launch.val_file else {})}})
        self.store.save(state)
        return self._record(self.status(state))

    def relaunch(self, spec: JobSpec) -> JobState:
        """A new job for a spec whose job Failed or was cancelled (next attempt: new file names)."""
        old = self.store.load(spec.spec_hash())
        if old is not None and old.done:
            self.attempt = int(old.details.get("attempt", 0)) + 1
        return self.submit(spec)

    @staticmethod
    def _find(api: Api, launch: ow_launch.Launch) -> dict[str, Any] | None:
        hits = [j for j in api.jobs() if j.get("training_file") == launch.train_file and j.get("model") == launch.model]
        return max(hits, key=lambda j: j.get("created_at") or 0) if hits else None

    def _apply(self, state: JobState, job: dict[str, Any]) -> JobState:
        start, end = job.get("created_at"), job.get("finished_at")
        status = ow_launch.status_of(job.get("status"))
        if status == "InProgress" and state.details.get("stop_requested"):
            status = "Stopping"
        minutes = ((end or self.clock()) - start) / 60 if start else state.duration_min
        details = {**state.details, "api_status": job.get("status"), "trained_tokens": job.get("trained_tokens")}
        failure = None
        if status == "Failed":
            failure = ev.failure_message(job) or ev.failure_message(job, self.api(state).events(state.job_id)) \
                or "the job failed without an error message"
        if status == "Completed" and "checkpoints" not in details:
            details["checkpoints"] = ev.checkpoint_record(self.api(state).checkpoints(state.job_id))
        return state.update(status=status, model_id=job.get("fine_tuned_model") or state.model_id,
                            failure_message=failure or state.failure_message, details=details,
                            duration_min=round(max(0.0, minutes), 2), cost_usd=cost.spent(minutes / 60, ow_launch.training_rate(self.rft)[0]))

    def refresh(self, state: JobState) -> JobState:
        return self.store.save(self._apply(state, self.api(state).retrieve(state.job_id)))

    @property
    def settings(self) -> Any:
        return self.o

    def progress_line(self, state: JobState) -> str:
        return progress_line(state)

    def signature(self, state: JobState) -> Any:
        return state.status, state.details.get("api_status"), state.details.get("step")

    def stop(self, state: JobState) -> JobState:
        if state.done:
            return state
        self.api(state).cancel(state.job_id)
        return self.store.save(state.update(status="Stopping", details={**state.details, "stop_requested": now_iso()}))

    def metrics(self, state: JobState) -> list[tuple[int, dict[str, float]]]:
        return ev.metric_rows(self.api(state).events(state.job_id))

    def _record(self, state: JobState) -> JobState:
        if not self.track:
            return state

        return record.record(self, state)


def progress_line(state: JobState) -> str:
    """`ftjob-... | InProgress (running) | step 12/67 | 0h14m | $14.20 (estimate)`."""
    mins = int(state.duration_min)
    step = state.details.get("step")
    parts = [state.job_id, f"{state.status} ({state.details.get('api_status') or '?'})"]
    if step is not None:
        parts.append(f"step {step}/{state.details.get('total_steps') or '?'}")
    parts += [f"{mins // 60}h{mins % 60:02d}m", f"${state.cost_usd:,.2f} (estimate)"]
    return " | ".join(parts)


def load_state(store: StateStore, job: str) -> JobState:
    state = store.find(job)
    if state is None:
        raise InputError(f"no job state for {job!r} in {store.root} (launch it with `rftlab rft`)")
    return state
