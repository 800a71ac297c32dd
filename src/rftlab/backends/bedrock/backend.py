"""The Bedrock RFT backend: launch, follow (with backoff, resumable), stop, cost, metrics.

The job state file (one per spec hash) is saved after every poll, so a Ctrl-C'd `wait`
resumes from it; the clientRequestToken is derived from the spec hash, so even a crash
between CreateModelCustomizationJob and saving the state never yields a second job.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from rftlab.aws import aws_errors, client
from rftlab.backends.bedrock import launch as bedrock_launch
from rftlab.backends.bedrock import metrics as bedrock_metrics
from rftlab.backends.bedrock import sync
from rftlab.backends.bedrock.shapes import check_request, operation_name
from rftlab.errors import InputError
from rftlab.jobs import cost
from rftlab.jobs.remote import RemoteBackend
from rftlab.jobs.spec import JobSpec
from rftlab.jobs.state import JobState, StateStore, default_store, now_iso

log = logging.getLogger(__name__)

STAGES = (("validationDetails", "validation"), ("dataProcessingDetails", "data processing"),
          ("trainingDetails", "training"))


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class BedrockBackend(RemoteBackend):
    """Backend protocol implementation for Amazon Bedrock RFT (params = the `rft` section)."""

    name = "bedrock"

    def __init__(self, params: Any, *, store: StateStore | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], dt.datetime] | None = None, echo: Callable[[str], None] = _stderr,
                 image_uri: str | None = None, attempt: int = 0, track: bool = True) -> None:
        self.rft = params
        self.b = params.bedrock
        self.store = store or default_store()
        self.sleep = sleep
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self.echo = echo
        self.image_uri = image_uri
        self.attempt = attempt
        self.track = track  # keep the job's MLflow run (found by rftlab.job_id) up to date

    # ------------------------------------------------------------------ AWS calls
    @property
    def api(self) -> Any:
        return client("bedrock", self.b.region)

    def call(self, op: str, doing: str, **kw: Any) -> dict[str, Any]:
        """One Bedrock call, checked against the service model first.

        Throttling and 5xx are retried by botocore alone (adaptive mode, rftlab.aws.client_config):
        a second retry loop here would multiply the attempts (8 x 8) and the wait.
        """

        check_request("bedrock", operation_name(self.api, op), kw)
        with aws_errors(doing):
            return getattr(self.api, op)(**kw)

    def get_job(self, job_arn: str) -> dict[str, Any]:
        return self.call("get_model_customization_job", f"reading job {job_arn}", jobIdentifier=job_arn)

    # ------------------------------------------------------------------ protocol
    def submit(self, spec: JobSpec) -> JobState:
        """Launch (or find again) the job for this spec; never creates a second job for it."""
        spec_hash = spec.spec_hash()
        existing = self.store.load(spec_hash)
        if existing and existing.job_id.startswith("arn:") and not (
            self.attempt > int(existing.details.get("attempt", 0)) and existing.status in {"Failed", "Stopped"}
        ):
            self.echo(f"job for this spec already exists: {existing.job_id} ({existing.status})")
            return self._record(self.status(existing), with_metrics=False)
        launch = bedrock_launch.prepare(spec, self.rft, attempt=self.attempt, image_uri=self.image_uri,
                                        echo=self.echo, sleep=self.sleep)
        req = bedrock_launch.request(launch, spec, self.rft)
        found = self._find_by_name(launch.job_name)
        if found:
            arn = found
            self.echo(f"found the job launched earlier for this spec: {arn}")
        else:
            arn = self.call("create_model_customization_job", f"creating RFT job {launch.job_name}", **req)["jobArn"]
            self.echo(f"launched {arn} (estimated ${launch.estimate.get('total_usd', 0):,.2f}, an estimate)")
        state = JobState(
            job_id=arn, spec_hash=spec_hash, backend=self.name, status="InProgress",
            details={"job_name": launch.job_name, "model_name": launch.model_name, "client_request_token": launch.token,
                     "grader_version": launch.grader_version, "grader_deployment": launch.grader_deployment,
                     "lambda_arn": launch.lambda_arn,
                     "train_uri": launch.train_uri, "val_uri": launch.val_uri, "output_uri": launch.output_uri,
                     "prompts_digest": launch.prompts_digest, "estimate": launch.estimate, "smoke_test": launch.smoke,
                     "region": self.b.region, "attempt": self.attempt, "seed": spec.seed,
                     "base_model": req["baseModelIdentifier"], "request": req,
                     "result": {"grader_version": launch.grader_version}},
        )
        self.store.save(state)
        state = self.status(state)
        return self._record(state, with_metrics=False)

    def relaunch(self, spec: JobSpec) -> JobState:
        """A new job for a spec whose job Failed or was Stopped (new attempt: new name and token)."""
        old = self.store.load(spec.spec_hash())
        if old is not None and not old.done:
            return self.submit(spec)
        self.attempt = int(old.details.get("attempt", 0)) + 1 if old else self.attempt
        return self.submit(spec)

    def _record(self, state: JobState, with_metrics: bool = True) -> JobState:
        if not self.track:
            return state

        return sync.record(self, state, with_metrics=with_metrics)

    def _find_by_name(self, job_name: str) -> str | None:
        out = self.call("list_model_customization_jobs", "listing RFT jobs", nameContains=job_name, maxResults=10)
        hits = [j for j in out.get("modelCustomizationJobSummaries", []) if j.get("jobName") == job_name]
        return hits[0]["jobArn"] if hits else None

    def adopt(self, job_arn: str) -> JobState:
        """A state for a job launched elsewhere (console, another machine), saved to the store."""
        for s in self.store.all():
            if s.job_id == job_arn:
                return self.refresh(s)
        job = self.get_job(job_arn)
        tags = self.job_tags(job_arn)
        spec_hash = tags.get(bedrock_launch.TAG_SPEC) or job_arn.rsplit("/", 1)[-1]
        state = JobState(job_id=job_arn, spec_hash=spec_hash, backend=self.name,
                         details={"job_name": job.get("jobName"), "region": self.b.region,
                                  "output_uri": (job.get("outputDataConfig") or {}).get("s3Uri"),
                                  "grader_version": tags.get(bedrock_launch.TAG_GRADER),
                                  "prompts_digest": tags.get(bedrock_launch.TAG_PROMPTS)})
        return self.store.save(self._apply(state, job))

    def job_tags(self, job_arn: str) -> dict[str, str]:
        out = self.call("list_tags_for_resource", f"reading tags of {job_arn}", resourceARN=job_arn)
        return {t["key"]: t["value"] for t in out.get("tags", [])}

    def _apply(self, state: JobState, job: dict[str, Any]) -> JobState:
        start = job.get("creationTime")
        end = job.get("endTime") or (None if job.get("status") == "InProgress" else job.get("lastModifiedTime"))
        minutes = ((end or self.clock()) - start).total_seconds() / 60 if start else state.duration_min
        stages = {label: (job.get("statusDetails") or {}).get(key, {}).get("status", "NotStarted")
                  for key, label in STAGES}
        details = {**state.details, "stages": stages, "job_name": job.get("jobName", state.details.get("job_name")),
                   "base_model_arn": job.get("baseModelArn"), "summary_metrics": bedrock_metrics.summary_metrics(job)}
        if job.get("outputDataConfig"):
            details["output_uri"] = job["outputDataConfig"]["s3Uri"]
        rft = (job.get("customizationConfig") or {}).get("rftConfig") or {}
        if rft.get("hyperParameters"):
            details["hyperparameters"] = rft["hyperParameters"]
        if rft.get("graderConfig"):
            details["lambda_arn"] = rft["graderConfig"].get("lambdaGrader", {}).get("lambdaArn")
        return state.update(
            status=job["status"], model_id=job.get("outputModelArn") or state.model_id,
            failure_message=job.get("failureMessage") or state.failure_message,
            duration_min=round(max(0.0, minutes), 2), cost_usd=cost.spent(minutes / 60, self.rft.prices),
            details=details,
        )

    def refresh(self, state: JobState) -> JobState:
        """State from GetModelCustomizationJob, saved (no side effects on the job)."""
        return self.store.save(self._apply(state, self.get_job(state.job_id)))

    @property
    def settings(self) -> Any:
        return self.b

    def progress_line(self, state: JobState) -> str:
        return progress_line(state)

    def signature(self, state: JobState) -> Any:
        return state.status, tuple(sorted(state.details.get("stages", {}).items()))

    def stop(self, state: JobState) -> JobState:
        if state.done:
            return state
        self.call("stop_model_customization_job", f"stopping {state.job_id}", jobIdentifier=state.job_id)
        return self.store.save(state.update(status="Stopping", details={**state.details, "stop_requested": now_iso()}))

    def metric_sources(self, state: JobState) -> dict[str, list[tuple[int, dict[str, float]]]]:
        """{"train": rows, "val": rows} from this job's own metrics CSVs."""
        uri = state.details.get("output_uri")
        if not uri:
            return {}
        return bedrock_metrics.read_job_metrics(uri, state.job_id, self.b.region)

    def metrics(self, state: JobState) -> list[tuple[int, dict[str, float]]]:
        return bedrock_metrics.merge(self.metric_sources(state))



def progress_line(state: JobState) -> str:
    """`<name> | Status | validation: X | data processing: Y | training: Z | 1h02m | ~$63.10 (estimate)`."""
    stages = state.details.get("stages", {})
    mins = int(state.duration_min)
    parts = [str(state.details.get("job_name") or state.job_id.rsplit("/", 1)[-1]), state.status]
    parts += [f"{label}: {stages.get(label, 'NotStarted')}" for _, label in STAGES]
    if last := state.details.get("last_reward"):  # the newest imported train/reward_mean (sync.py)
        parts.append(f"step {last['step']} reward {last['reward']:.3f}")
    parts += [f"{mins // 60}h{mins % 60:02d}m", f"${state.cost_usd:,.2f} (estimate)"]
    return " | ".join(parts)


def load_state(store: StateStore, job: str) -> JobState:
    state = store.find(job)
    if state is None:
        raise InputError(f"no job state for {job!r} in {store.root} (launch with `rftlab rft` or sync it first)")
    return state

