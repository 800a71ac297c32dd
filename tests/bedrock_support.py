"""Shared fixtures for tests/test_bedrock_*.py: moto AWS, a Bedrock Stubber, params, prompts, a grader.

Every request is validated by botocore's service model: moto serves S3/IAM/Lambda/ECR,
Stubber serves bedrock (with expected_params where the test cares), and
rftlab.backends.bedrock.shapes additionally checks patterns/maximums/enums before each call.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import uuid
from pathlib import Path

import pytest
import yaml

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/rftlab-bedrock-rft"
BUCKET = "rft-bucket"
JOB_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-customization-job/amazon.nova-2-lite-v1:0:256k/abcdef123456"
MODEL_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/amazon.nova-2-lite-v1:0:256k/fedcba654321"
DEPLOY_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model-deployment/a1b2c3d4e5f6"
T0 = dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.timezone.utc)
GRADER_VERSION = "g-0123456789ab"


def job_response(status: str = "InProgress", *, minutes: float = 10, stages: tuple[str, str, str] | None = None,
                 failure: str | None = None, arn: str = JOB_ARN, name: str | None = None, **extra) -> dict:
    """A GetModelCustomizationJob response (validated against the output shape by Stubber)."""
    stages = stages or {"InProgress": ("Completed", "Completed", "InProgress"), "Completed": ("Completed",) * 3,
                        "Failed": ("Failed", "NotStarted", "NotStarted"), "Stopping": ("Completed", "Completed", "Stopping"),
                        "Stopped": ("Completed", "Completed", "Stopped")}[status]
    keys = ("validationDetails", "dataProcessingDetails", "trainingDetails")
    resp = {
        "jobArn": arn, "jobName": name or "rftlab-rft-abc", "outputModelName": "rftlab-style-abc", "roleArn": ROLE,
        "status": status, "creationTime": T0, "lastModifiedTime": T0 + dt.timedelta(minutes=minutes),
        "baseModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/amazon.nova-2-lite-v1:0:256k",
        "trainingDataConfig": {"s3Uri": f"s3://{BUCKET}/rftlab/data/x/train.jsonl"},
        "validationDataConfig": {"validators": [{"s3Uri": f"s3://{BUCKET}/rftlab/data/y/val.jsonl"}]},
        "outputDataConfig": {"s3Uri": f"s3://{BUCKET}/rftlab/output/abc/"},
        "customizationType": "REINFORCEMENT_FINE_TUNING",
        "statusDetails": {k: {"status": s} for k, s in zip(keys, stages, strict=True)},
        "customizationConfig": {"rftConfig": {
            "graderConfig": {"lambdaGrader": {"lambdaArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:rftlab-grader:1"}},
            "hyperParameters": {"epochCount": 1, "batchSize": 16, "learningRate": 1e-05, "trainingSamplePerPrompt": 4}}},
    }
    if status != "InProgress":
        resp["endTime"] = T0 + dt.timedelta(minutes=minutes)
    if status == "Completed":
        resp["outputModelArn"] = MODEL_ARN
        resp["trainingMetrics"] = {"trainingLoss": 0.42}
    if failure:
        resp["failureMessage"] = failure
    resp.update(extra)
    return resp


class FakeGrader:
    """Stands in for rftlab.grader.bundle.Grader when the grader concern is absent or too slow."""

    def __init__(self, version: str):
        self.version = version

    def score(self, text, *, prompt=None, reference=None):
        return min(1.0, len(text) / 20), {"length": len(text)}


def _fake_handle(payload, grader):
    out = []
    for s in payload:
        sid = s.get("id") if isinstance(s, dict) else None
        try:
            text = [m for m in s["messages"] if m["role"] in ("assistant", "nova_assistant")][-1]["content"]
            score = grader.score(text)[0]
            out.append({"id": sid, "aggregate_reward_score": score,
                        "metrics_list": [{"name": "style", "value": score, "type": "Reward"}]})
        except Exception as exc:  # noqa: BLE001 - the contract: never raise for one sample
            out.append({"id": sid, "aggregate_reward_score": 0.0,
                        "metrics_list": [{"name": f"malformed:{type(exc).__name__}", "value": 0.0, "type": "Metric"}]})
    return out


def _fake_to_payload(prompt_messages, completion, *, sample_id, reference_answer=None, metadata=None):
    return {"id": sample_id, "messages": [*prompt_messages, {"role": "assistant", "content": completion}],
            "metadata": {**(metadata or {}), "reference_answer": reference_answer}}


# The modules that load a grader on the Bedrock paths: imported first, so the fakes replace the
# functions they hold (a module imported later would bind the real ones).
USERS = ("rftlab.backends.bedrock.grader", "rftlab.backends.bedrock.launch", "rftlab.backends.bedrock.open_weight.launch",
         "rftlab.grader.package", "rftlab.grader.deployment", "rftlab.jobs.rft_stage")


def _replace_everywhere(monkeypatch, real: object, fake: object) -> None:
    for module in [m for name, m in sys.modules.items() if name.startswith("rftlab") and m is not None]:
        for attr, value in list(vars(module).items()):
            if value is real:
                monkeypatch.setattr(module, attr, fake)


def install_fake_grader(monkeypatch) -> None:
    """A grader that needs no real bundle: its version is the file's `version` field."""
    import importlib

    from rftlab.grader import bundle, handler

    for name in USERS:
        importlib.import_module(name)
    _replace_everywhere(monkeypatch, bundle.load_grader,
                        lambda path: FakeGrader(json.loads(Path(path).read_text())["version"]))
    _replace_everywhere(monkeypatch, handler.handle, _fake_handle)
    _replace_everywhere(monkeypatch, handler.to_payload, _fake_to_payload)


def write_prompts(path: Path, n: int = 120) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            rec = {"id": f"p{i}", "messages": [{"role": "user", "content": f"明日の会議の件、どうしますか {i}"}],
                   "reference_answer": f"承知したでござる。{i}件目は拙者が進めるでござる。", "channel": "general",
                   "thread_ts": f"{i}.0", "prompt_user": "U02"}
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path


def write_params(root: Path, **bedrock) -> Path:
    rft = {"backend": "bedrock", "budget_usd": 500.0,
           "bedrock": {"bucket": BUCKET, "role_arn": ROLE, "lambda_role_arn": f"arn:aws:iam::{ACCOUNT}:role/rftlab-grader-exec",
                       "poll_s": 1.0, "poll_max_s": 4.0, **bedrock}}
    p = root / "params.yaml"
    # one MLflow experiment per test: runs are found by job ARN, and the store is session-wide
    tracking = {"experiment": f"bedrock-test-{uuid.uuid4().hex[:8]}"}
    p.write_text(yaml.safe_dump({"tracking": tracking, "rft": rft}), encoding="utf-8")
    return p


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder: params.yaml (bedrock backend), prompts, a grader bundle; cwd inside it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RFTLAB_PARAMS", str(write_params(tmp_path)))
    write_prompts(tmp_path / "data/prompts/train.jsonl")
    write_prompts(tmp_path / "data/prompts/val.jsonl", 20)
    grader = tmp_path / "data/grader/grader.json"
    grader.parent.mkdir(parents=True)
    grader.write_text(json.dumps({"version": GRADER_VERSION, "profile": {}, "weights": {}}))
    install_fake_grader(monkeypatch)
    return tmp_path


_CLIENTS_FRESH = False


@pytest.fixture
def aws(project):
    """moto for S3/IAM/Lambda/ECR with the bucket and both roles created."""
    from moto import mock_aws

    from rftlab.aws import client, reset_clients

    global _CLIENTS_FRESH
    with mock_aws():
        if not _CLIENTS_FRESH:  # clients made after moto's import stay intercepted: reuse them (fast)
            reset_clients()
            _CLIENTS_FRESH = True
        client("s3", REGION).create_bucket(Bucket=BUCKET)
        iam = client("iam", REGION)
        for name, service in (("rftlab-bedrock-rft", "bedrock.amazonaws.com"), ("rftlab-grader-exec", "lambda.amazonaws.com")):
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}))
        yield


@pytest.fixture
def bedrock(aws):
    """A Stubber on the cached bedrock client; asserts every queued response was used."""
    from botocore.stub import Stubber

    from rftlab.aws import client

    stub = Stubber(client("bedrock", REGION))
    stub.activate()
    yield stub
    stub.deactivate()


@pytest.fixture
def no_sleep(monkeypatch):
    """Record poll/backoff sleeps instead of sleeping."""
    from rftlab.backends.bedrock import commands as bedrock_commands

    slept: list[float] = []
    monkeypatch.setattr(bedrock_commands, "SLEEP", slept.append)
    # the clock starts 5 minutes after the job's creation time and advances with every sleep
    monkeypatch.setattr(bedrock_commands, "CLOCK", lambda: T0 + dt.timedelta(minutes=5, seconds=sum(slept)))
    return slept


def rft_params():
    from rftlab.config import load_params

    return load_params().rft


# The metric names AWS documents for RFT (user guide "Monitor your RFT training job",
# https://docs.aws.amazon.com/bedrock/latest/userguide/rft-submit-job.html#rft-monitor-job) and the
# documented artifact layout under the job's output prefix; the CSV header order is our assumption.
TRAIN_COLUMNS = ("step_number", "epoch_number", "critic/rewards/mean", "critic/rewards/max", "critic/rewards/min",
                 "actor/entropy", "actor/pg_loss", "actor/pg_clipfrac", "actor/grad_norm", "response_length/mean",
                 "response/aborted_ratio", "val-score/rewards/mean@1")
JOB_FOLDER = "rftlab/output/abc/model-customization-job-abcdef123456"  # <outputDataConfig.s3Uri>/model-customization-job-<jobId>


def training_csv(rows: int = 3, eval_every: int = 2, first: int = 1) -> str:
    """step_wise_training_metrics.csv: rewards 0.3+0.1*step, val-score every `eval_every` steps (else empty)."""
    lines = [",".join(TRAIN_COLUMNS)]
    for i in range(first, first + rows):
        r = 0.3 + 0.1 * i
        val = f"{r - 0.05:.2f}" if i % eval_every == 0 else ""
        lines.append(f"{i},0,{r:.2f},{r + 0.2:.2f},{r - 0.2:.2f},1.5,-0.01,0.02,0.8,42,0.0,{val}")
    return "\n".join(lines) + "\n"


def put_metrics_csv(key_prefix: str = f"{JOB_FOLDER}/training_artifacts", rows: int = 3) -> str:
    from rftlab.aws import client

    key = f"{key_prefix}/step_wise_training_metrics.csv"
    client("s3", REGION).put_object(Bucket=BUCKET, Key=key, Body=training_csv(rows).encode())
    return key
