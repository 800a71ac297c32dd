"""Model customization jobs at the stand-in: create, get, list, stop, and the simulated lifecycle.

A job is InProgress through validationDetails -> dataProcessingDetails -> trainingDetails
(each NotStarted -> InProgress -> Completed, with creationTime/lastModifiedTime), then Completed
with `outputModelArn` and `endTime`; StopModelCustomizationJob makes it Stopping, then Stopped.
Idempotency follows the API reference: a repeated `clientRequestToken` returns the first
request's job without an error (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_CreateModelCustomizationJob.html).
Wording of the stand-in's own messages (no AWS text is published for them) is marked `# own wording`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from rftlab.backends.bedrock.rehearsal import training
from rftlab.backends.bedrock.rehearsal.lambdas import GraderFunction, LambdaFailure
from rftlab.backends.bedrock.rehearsal.options import (
    FAIL_TAG,
    RFT_BASE_MODEL,
    STAGES,
    StandInOptions,
    new_id,
    now,
)
from rftlab.backends.bedrock.rehearsal.wire import ServiceError

log = logging.getLogger(__name__)


class JobFailed(Exception):
    """Ends the run: the job becomes Failed with this failureMessage in `stage`."""

    def __init__(self, stage: str, message: str):
        super().__init__(message)
        self.stage, self.message = stage, message


@dataclass
class Job:
    arn: str
    job_id: str
    request: dict[str, Any]
    base_model_arn: str
    created: dt.datetime
    status: str = "InProgress"
    modified: dt.datetime | None = None
    end: dt.datetime | None = None
    failure: str | None = None
    model_arn: str | None = None
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def name(self) -> str:
        return str(self.request["jobName"])

    @property
    def tags(self) -> list[dict[str, str]]:
        return list(self.request.get("jobTags") or [])

    def describe(self) -> dict[str, Any]:
        """The GetModelCustomizationJob answer."""
        r = self.request
        out: dict[str, Any] = {
            "jobArn": self.arn, "jobName": self.name, "outputModelName": r["customModelName"],
            "clientRequestToken": r.get("clientRequestToken"), "roleArn": r["roleArn"], "status": self.status,
            "statusDetails": {k: dict(v) for k, v in self.stages.items()}, "failureMessage": self.failure,
            "creationTime": self.created, "lastModifiedTime": self.modified or self.created, "endTime": self.end,
            "baseModelArn": self.base_model_arn, "outputModelArn": self.model_arn,
            "customizationType": r.get("customizationType"), "trainingDataConfig": r["trainingDataConfig"],
            "validationDataConfig": r.get("validationDataConfig") or {"validators": []},
            "outputDataConfig": r["outputDataConfig"], "customizationConfig": r.get("customizationConfig"),
            "hyperParameters": r.get("hyperParameters"), "vpcConfig": r.get("vpcConfig"),
        }
        return {k: v for k, v in out.items() if v is not None}

    def summary(self) -> dict[str, Any]:
        d = self.describe()
        keys = ("jobArn", "baseModelArn", "jobName", "status", "statusDetails", "lastModifiedTime", "creationTime",
                "endTime", "customizationType")
        out = {k: d[k] for k in keys if k in d}
        if self.model_arn:
            out.update(customModelArn=self.model_arn, customModelName=self.request["customModelName"])
        return out


class JobRunner:
    """Moves one job through its stages on a thread; `grader` answers for the Lambda."""

    def __init__(self, job: Job, opts: StandInOptions, on_completed: Any, closing: threading.Event):
        self.job, self.opts, self.on_completed, self.closing = job, opts, on_completed, closing
        self.lock = threading.Lock()

    def set_stage(self, stage: str, status: str) -> None:
        with self.lock:
            t = now()
            entry = self.job.stages.setdefault(stage, {"status": "NotStarted"})
            entry.setdefault("creationTime", t)
            entry.update(status=status, lastModifiedTime=t)
            self.job.modified = t

    def finish(self, status: str, stage: str | None = None, stage_status: str | None = None,
               failure: str | None = None) -> None:
        if stage:
            self.set_stage(stage, stage_status or status)
        with self.lock:
            self.job.status, self.job.failure = status, failure
            self.job.end = self.job.modified = now()

    def wait(self, seconds: float) -> bool:
        """Sleep; True when the job was asked to stop (or the server is closing)."""
        return self.job.stop.wait(seconds) or self.closing.is_set()

    def injected(self, stage: str) -> None:
        rule = self.opts.fail or next((t["value"] for t in self.job.tags if t["key"] == FAIL_TAG), None)
        if rule and rule.split(":", 1)[0] == stage:
            raise JobFailed(stage, rule.split(":", 1)[1].strip() if ":" in rule else "injected failure")

    def run(self) -> None:
        stage = STAGES[0]
        grader: GraderFunction | None = None
        train: list[dict] = []
        val: list[dict] = []
        try:
            for stage in STAGES:
                self.set_stage(stage, "InProgress")
                if self.wait(self.opts.stage_seconds):
                    return self.finish("Stopped", stage)
                self.injected(stage)
                if stage == "validationDetails":
                    train, val, grader = self.validate()
                elif stage == "trainingDetails":
                    assert grader is not None
                    if self.train(train, val, grader):
                        return self.finish("Stopped", stage)
                self.set_stage(stage, "Completed")
            self.job.model_arn = self.opts.arn("custom-model", f"{RFT_BASE_MODEL}/{new_id()}")
            self.on_completed(self.job)
            self.finish("Completed")
        except JobFailed as exc:
            self.finish("Failed", exc.stage, failure=exc.message)
        except Exception as exc:  # noqa: BLE001 - a stand-in bug must still end the job, visibly
            log.exception("stand-in job %s crashed", self.job.arn)
            self.finish("Failed", stage, failure=f"Internal error in the stand-in: {exc}")
        finally:
            if grader is not None:
                grader.close()

    def validate(self) -> tuple[list[dict], list[dict], GraderFunction]:
        r, s3 = self.job.request, self.opts.client("s3")
        try:
            train = training.read_records(s3, r["trainingDataConfig"]["s3Uri"])
            training.check_training_size(train, r["trainingDataConfig"]["s3Uri"])
            val = [rec for v in (r.get("validationDataConfig") or {}).get("validators", [])
                   for rec in training.read_records(s3, v["s3Uri"])]
        except training.DataError as exc:
            raise JobFailed("validationDetails", str(exc)) from None
        arn = r["customizationConfig"]["rftConfig"]["graderConfig"]["lambdaGrader"]["lambdaArn"]
        try:
            return train, val, GraderFunction(arn, self.opts)
        except LambdaFailure as exc:
            raise JobFailed("validationDetails", str(exc)) from None

    def train(self, train: list[dict], val: list[dict], grader: GraderFunction) -> bool:
        """Run the steps and write the CSVs; True when stopped part-way."""
        hp = self.job.request["customizationConfig"]["rftConfig"].get("hyperParameters") or {}
        p = training.plan(hp, len(train), self.opts.max_steps)
        sim = training.Simulation(self.job.job_id, train, val, p, grader.invoke,
                                  prompts_per_step=self.opts.prompts_per_step, val_prompts=self.opts.val_prompts,
                                  seed=self.opts.seed)
        rows = []
        try:
            for i in range(p.steps):
                if self.wait(self.opts.step_seconds):
                    return True
                rows.append(sim.step(i))
            final = {"step_number": p.steps - 1, "epoch_number": sim.epoch(p.steps - 1),
                     "val-score/rewards/mean@1": sim.val_score(p.steps - 1, "post")}
        except (LambdaFailure, ValueError) as exc:
            raise JobFailed("trainingDetails", str(exc)) from None
        self.write(rows, final)
        return False

    def write(self, rows: list[dict], final: dict) -> None:
        # botocore loads with the first AWS call: offline commands never pay for it
        from botocore.exceptions import ClientError

        bucket, prefix = training.job_folder(self.job.request["outputDataConfig"]["s3Uri"], self.job.job_id)
        s3 = self.opts.client("s3")
        try:
            for key, text in ((training.TRAIN_KEY, training.to_csv(rows, training.TRAIN_COLUMNS)),
                              (training.VAL_KEY, training.to_csv([final], training.VAL_COLUMNS))):
                s3.put_object(Bucket=bucket, Key=prefix + key, Body=text.encode("utf-8"), ContentType="text/csv")
        except ClientError as exc:
            raise JobFailed("trainingDetails", f"Unable to write the job's outputs to s3://{bucket}/{prefix}: "
                            f"{exc.response.get('Error', {}).get('Code')}") from None  # own wording


def stoppable(job: Job) -> None:
    if job.status != "InProgress":
        raise ServiceError("ValidationException", f"The job {job.name} is {job.status} and cannot be stopped")  # own wording
