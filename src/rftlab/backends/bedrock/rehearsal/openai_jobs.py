"""The OpenAI-compatible fine-tuning API's state at the stand-in: files, RFT jobs and their simulated run.

Shapes are the API's objects as AWS's pages and notebooks use them (user guide
fine-tuning-openai-job-create; aws-samples/amazon-bedrock-samples custom-models/
bedrock-reinforcement-fine-tuning/models/gpt-oss/gptoss_gsm8k_rft.ipynb and models/qwen/...): a file
`{"id", "object": "file", "bytes", "created_at", "filename", "purpose": "fine-tune", "status"}`, a job
`{"id", "object": "fine_tuning.job", "model", "training_file", "status", "created_at", "finished_at",
"fine_tuned_model", "error", "method", "hyperparameters", ...}` with status validating_files -> queued
-> running -> succeeded | failed | cancelled, events `{"id", "object": "fine_tuning.job.event",
"created_at", "level", "message", "type", "data"}` and checkpoints `{"id", "object":
"fine_tuning.job.checkpoint", "fine_tuned_model_checkpoint", "fine_tuning_job_id", "metrics",
"step_number"}`. A metrics event is the notebook's example: message "Step i/N: training metrics",
data `{total_steps, step, critic_rewards_mean, actor_pg_loss, actor_entropy, actor_grad_norm,
critic_advantages_mean, response_length_mean}`; the rewards are the grader Lambda's own
`aggregate_reward_score`s (rehearsal/training.py sends it the documented open-weight payload).
AWS shows no ids of fine-tuned models or checkpoints, nor the wording of other messages: those are
the stand-in's own (`# own wording`).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rftlab.backends.bedrock.models import OPEN_WEIGHT_RFT_MODELS
from rftlab.backends.bedrock.rehearsal import training

Grade = Callable[[list[dict[str, Any]]], Any]


class ApiFailure(Exception):
    """An HTTP error answer: status, OpenAI-style error type/code and message."""

    def __init__(self, status: int, message: str, code: str = "invalid_request_error", param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


@dataclass
class Options:
    api_key: str = "rehearsal"
    accept: Any = None                    # Callable[[str], bool]: which bearer tokens are valid (None: api_key only)
    stage_seconds: float = 0.2            # validating_files and queued each last this long
    step_seconds: float = 0.05            # one simulated step
    max_steps: int = 8
    prompts_per_step: int = 3
    checkpoints: int = 2                  # checkpoints written over the run (the last at the final step)
    fail: str | None = None               # "<status>:<message>": fail in validating_files or running
    reply: str = "(rehearsal reply)"
    seed: int = 0


@dataclass
class FtJob:
    body: dict[str, Any]
    id: str = field(default_factory=lambda: new_id("ftjob"))
    created_at: int = field(default_factory=lambda: int(time.time()))
    status: str = "validating_files"
    finished_at: int | None = None
    fine_tuned_model: str | None = None
    error: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def hp(self) -> dict[str, Any]:
        return dict(self.body["method"]["reinforcement"].get("hyperparameters") or {})

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "object": "fine_tuning.job", "model": self.body["model"], "created_at": self.created_at,
                "finished_at": self.finished_at, "fine_tuned_model": self.fine_tuned_model, "status": self.status,
                "training_file": self.body["training_file"], "validation_file": self.body.get("validation_file"),
                "error": self.error, "hyperparameters": self.hp, "method": self.body["method"],
                "organization_id": "rehearsal", "result_files": [], "seed": int(self.body.get("seed") or 0),
                "trained_tokens": None, "estimated_finish": None, "integrations": None, "metadata": None}

    def event(self, message: str, *, level: str = "info", kind: str = "message", data: Any = None) -> None:
        self.events.append({"id": new_id("ftevent"), "object": "fine_tuning.job.event", "created_at": int(time.time()),
                            "level": level, "message": message, "type": kind, "data": data})


class State:
    """Files and jobs in memory; `grader(lambda_arn)` returns the function that grades one payload."""

    def __init__(self, opts: Options, grader: Callable[[str], Grade]):
        self.opts, self.grader = opts, grader
        self.files: dict[str, dict[str, Any]] = {}
        self.contents: dict[str, bytes] = {}
        self.jobs: dict[str, FtJob] = {}
        self.lock = threading.Lock()
        self.closing = threading.Event()

    def add_file(self, filename: str, purpose: str, content: bytes) -> dict[str, Any]:
        if purpose != "fine-tune":
            raise ApiFailure(400, f"purpose must be fine-tune, got {purpose!r}", param="purpose")  # own wording
        f = {"id": new_id("file"), "object": "file", "bytes": len(content), "created_at": int(time.time()),
             "filename": filename, "purpose": purpose, "status": "processed"}
        with self.lock:
            self.files[f["id"]], self.contents[f["id"]] = f, content
        return f

    def file(self, file_id: str) -> dict[str, Any]:
        if file_id not in self.files:
            raise ApiFailure(404, f"No such File object: {file_id}", param="file_id")  # own wording
        return self.files[file_id]

    def create_job(self, body: dict[str, Any]) -> FtJob:
        """Validate the request as AWS documents it, then run the job on a thread."""
        if body.get("model") not in OPEN_WEIGHT_RFT_MODELS:
            raise ApiFailure(400, f"model {body.get('model')!r} does not support reinforcement fine-tuning; "
                             f"supported: {', '.join(OPEN_WEIGHT_RFT_MODELS)}", param="model")  # own wording
        for key in ("training_file", "validation_file"):
            if body.get(key) is not None:
                self.file(str(body[key]))
        m = body.get("method") or {}
        rf = m.get("reinforcement") or {}
        grader = rf.get("grader") or {}
        arn = (grader.get("lambda") or {}).get("function")
        if m.get("type") != "reinforcement" or grader.get("type") != "lambda" or not isinstance(arn, str):
            raise ApiFailure(400, "method must be {type: reinforcement, reinforcement: {grader: {type: lambda, "
                             "lambda: {function: <Lambda ARN>}}}}", param="method")  # own wording
        unknown = set(rf.get("hyperparameters") or {}) - {"n_epochs", "batch_size", "learning_rate_multiplier"}
        if unknown:
            raise ApiFailure(400, f"unknown hyperparameters: {', '.join(sorted(unknown))}", param="method")
        job = FtJob(body)
        job.event("Created fine-tuning job")  # own wording
        with self.lock:
            self.jobs[job.id] = job
        threading.Thread(target=self._run, args=(job,), daemon=True, name=f"ftjob-{job.id[-6:]}").start()
        return job

    def job(self, job_id: str) -> FtJob:
        if job_id not in self.jobs:
            raise ApiFailure(404, f"Fine-tuning job {job_id} not found", param="fine_tuning_job_id")  # own wording
        return self.jobs[job_id]

    def cancel(self, job_id: str) -> FtJob:
        job = self.job(job_id)
        if job.status in ("succeeded", "failed", "cancelled"):
            raise ApiFailure(400, f"Job {job_id} is {job.status} and cannot be cancelled")  # own wording
        job.cancel.set()
        return job

    # ------------------------------------------------------------------ the simulated run
    def _wait(self, job: FtJob, seconds: float) -> bool:
        return job.cancel.wait(seconds) or self.closing.is_set()

    def _end(self, job: FtJob, status: str, message: str, level: str = "info", error: dict | None = None) -> None:
        job.status, job.error, job.finished_at = status, error, int(time.time())
        job.event(message, level=level)

    def _injected(self, status: str) -> str | None:
        rule = self.opts.fail  # `rftlab rehearse --fail` names Bedrock's stages: the same rule fails both APIs
        stage = rule.split(":", 1)[0] if rule else None
        stage = {"validationDetails": "validating_files", "dataProcessingDetails": "validating_files",
                 "trainingDetails": "running"}.get(stage or "", stage)
        if rule and stage == status:
            return rule.split(":", 1)[1].strip() if ":" in rule else "injected failure"
        return None

    def _records(self, file_id: str) -> list[dict[str, Any]]:
        rows = []
        for n, line in enumerate(self.contents[file_id].decode("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            rec = json.loads(line)
            msgs = rec.get("messages") if isinstance(rec, dict) else None
            if not isinstance(msgs, list) or not msgs or msgs[-1].get("role") != "user":
                raise training.DataError(f"line {n}: messages must end with a user message")  # own wording
            rows.append(rec)
        if not training.MIN_RECORDS <= len(rows) <= training.MAX_RECORDS:
            raise training.DataError(f"{len(rows)} examples; between {training.MIN_RECORDS} and "
                                     f"{training.MAX_RECORDS} are needed")  # own wording (AWS: 100-20K examples)
        return rows

    def _run(self, job: FtJob) -> None:
        try:
            if self._wait(job, self.opts.stage_seconds):
                return self._end(job, "cancelled", "Fine-tuning job cancelled")  # own wording
            why = self._injected("validating_files")
            try:
                train = self._records(job.body["training_file"])
            except (training.DataError, ValueError, UnicodeDecodeError) as exc:
                why = why or f"Invalid training file: {exc}"  # own wording
            if why:
                return self._end(job, "failed", why, "error", {"code": "invalid_training_file", "message": why,
                                                              "param": "training_file"})
            job.status = "queued"
            if self._wait(job, self.opts.stage_seconds):
                return self._end(job, "cancelled", "Fine-tuning job cancelled")
            job.status = "running"
            job.event("Fine-tuning job started")  # own wording
            self._train(job, train)
        except Exception as exc:  # noqa: BLE001 - a stand-in bug or a grader failure ends the job visibly
            why = f"Reward function error: {exc}"  # own wording
            self._end(job, "failed", why, "error", {"code": "reward_function_error", "message": why, "param": None})

    def _train(self, job: FtJob, train: list[dict[str, Any]]) -> None:
        hp = job.hp
        p = training.plan({"epochCount": hp.get("n_epochs"), "batchSize": hp.get("batch_size")}, len(train),
                          self.opts.max_steps)
        grade = self.grader(job.body["method"]["reinforcement"]["grader"]["lambda"]["function"])
        try:
            self._steps(job, train, p, grade)
        finally:  # a Lambda worker (rehearsal/lambdas.py) ends with its job
            close = getattr(getattr(grade, "__self__", None), "close", None)
            if callable(close):
                close()

    def _steps(self, job: FtJob, train: list[dict[str, Any]], p: training.Plan, grade: Grade) -> None:
        sim = training.Simulation(job.id, train, [], p, grade, prompts_per_step=self.opts.prompts_per_step,
                                  val_prompts=1, seed=self.opts.seed)
        every = max(1, p.steps // max(1, self.opts.checkpoints))
        suffix = job.id.rsplit("-", 1)[-1][:8]
        for i in range(p.steps):
            if self._wait(job, self.opts.step_seconds):
                return self._end(job, "cancelled", "Fine-tuning job cancelled")
            if i == p.steps // 2 and (why := self._injected("running")):
                return self._end(job, "failed", why, "error", {"code": "server_error", "message": why, "param": None})
            row = sim.step(i)
            data = {"total_steps": p.steps, "step": i + 1, "critic_rewards_mean": row["critic/rewards/mean"],
                    "actor_pg_loss": row["actor/pg_loss"], "actor_entropy": row["actor/entropy"],
                    "actor_grad_norm": row["actor/grad_norm"], "critic_advantages_mean": 0.0,
                    "response_length_mean": row["response_length/mean"]}
            job.event(f"Step {i + 1}/{p.steps}: training metrics", kind="metrics", data=data)
            if (i + 1) % every == 0 or i == p.steps - 1:
                job.checkpoints.append({
                    "id": new_id("ftckpt"), "object": "fine_tuning.job.checkpoint", "created_at": int(time.time()),
                    "fine_tuned_model_checkpoint": f"{job.body['model']}:ft:{suffix}:ckpt-step-{i + 1}",  # own format
                    "fine_tuning_job_id": job.id, "metrics": {"step": float(i + 1)}, "step_number": i + 1})
        job.fine_tuned_model = f"{job.body['model']}:ft:{suffix}"  # own format: AWS shows none
        job.event(f"New fine-tuned model created: {job.fine_tuned_model}")  # own wording
        self._end(job, "succeeded", "The job has successfully completed")  # own wording

    def close(self) -> None:
        self.closing.set()
