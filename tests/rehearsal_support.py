"""Shared pieces for tests/test_rehearsal_*.py: running servers, a grader image, documented request shapes.

Prompt records follow the Bedrock RFT data format (OpenAI chat `messages` ending with a user turn,
plus `reference_answer`; https://docs.aws.amazon.com/bedrock/latest/userguide/rft-prepare-data.html).
The recorder image stands in for any grader: its handler (the Dockerfile's CMD) logs every event
it receives and answers a score derived from the completion, so tests can check the payload Bedrock
sends and that the metrics CSVs carry exactly the grader's `aggregate_reward_score`s.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

RECORDER = '''
import json, os


def score(text):
    return round((sum(map(ord, text)) % 97) / 96, 6)


def handler(event, context):
    out = [{"id": s["id"], "aggregate_reward_score": score(s["messages"][-1]["content"]),
            "metrics_list": [{"name": "ord", "value": 1.0, "type": "Metric"}]} for s in event]
    with open(os.environ["RECORD_TO"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"event": event, "answer": out}, ensure_ascii=False) + "\\n")
    return out
'''


def prompt_records(n: int) -> list[dict]:
    return [{"messages": [{"role": "system", "content": "Slackの返信"},
                          {"role": "user", "content": f"明日の会議{i}の件、どうしますか"}],
             "reference_answer": f"承知したでござる。{i}件目は拙者が進めるでござる。", "channel": "general", "id": f"p{i}"}
            for i in range(n)]


def jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def recorder_context(root: Path) -> Path:
    ctx = root / "recorder-image"
    ctx.mkdir(parents=True, exist_ok=True)
    (ctx / "recorder.py").write_text(RECORDER, encoding="utf-8")
    (ctx / "Dockerfile").write_text("FROM public.ecr.aws/lambda/python:3.13\nCOPY recorder.py /var/task/\n"
                                    "ENV RECORD_TO=/var/task/events.jsonl\nCMD [\"recorder.handler\"]\n",
                                    encoding="utf-8")
    return ctx


def real_grader_context(root: Path) -> tuple[Path, str, str]:
    """A real bundle packaged by `rftlab grader package`: (context, image tag, grader version)."""
    import rftlab.grader.bundle as bundle_mod
    import rftlab.style.profile as profile_mod
    from rftlab.grader.package import package

    msgs = [{"id": str(i), "user": "U01CTO" if i % 2 else "U02", "text": t}
            for i, t in enumerate(["承知したでござる。", "了解です。", "拙者が対応するでござる。", "明日やります。"] * 5)]
    bundle = bundle_mod.make_bundle(profile_mod.build_profile(msgs, "U01CTO", min_count=1))
    bundle_mod.write_bundle(root / "grader.json", bundle)
    manifest = package(root / "grader.json", root / "grader-image", fmt="image")
    return root / "grader-image", str(manifest.get("deployment_version") or manifest["grader_version"]), bundle["version"]


class Account:
    """The running servers plus boto3 clients that find them through the AWS_ENDPOINT_URL_* variables."""

    def __init__(self, rehearsal, monkeypatch):
        import boto3

        for key in rehearsal.unset:
            monkeypatch.delenv(key, raising=False)
        for key, value in rehearsal.env.items():
            monkeypatch.setenv(key, value)
        self.r = rehearsal
        self.bucket = rehearsal.settings["rft.bedrock.bucket"]
        self.s3, self.lam, self.ecr = boto3.client("s3"), boto3.client("lambda"), boto3.client("ecr")
        self.bedrock, self.runtime = boto3.client("bedrock"), boto3.client("bedrock-runtime")
        self.repo_uri = self.ecr.describe_repositories()["repositories"][0]["repositoryUri"]

    def upload(self, key: str, rows: list[dict]) -> str:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=jsonl(rows))
        return f"s3://{self.bucket}/{key}"

    def grader_version(self, function: str, context: Path, tag: str, env: dict | None = None) -> str:
        """Push `context` as image `<repo>:<tag>`, create/update the function from it, publish; the version ARN."""
        from rftlab.backends.bedrock.rehearsal.servers import fake_manifest

        uri = f"{self.repo_uri}:{tag}"
        self.ecr.put_image(repositoryName=self.repo_uri.rsplit("/", 1)[-1], imageManifest=fake_manifest(context),
                           imageTag=tag)
        self.r.standin.opts.images[uri] = context
        self.lam.create_function(FunctionName=function, PackageType="Image", Code={"ImageUri": uri},
                                 Role=self.r.settings["rft.bedrock.lambda_role_arn"], Timeout=60,
                                 Environment={"Variables": env or {}})
        return self.lam.publish_version(FunctionName=function)["FunctionArn"]

    def request(self, name: str, lambda_arn: str, *, train: str, val: str | None = None, **hp) -> dict:
        """A CreateModelCustomizationJob request as the API reference shapes it."""
        req = {"jobName": name, "customModelName": f"{name}-model", "roleArn": self.r.settings["rft.bedrock.role_arn"],
               "baseModelIdentifier": "amazon.nova-2-lite-v1:0:256k", "customizationType": "REINFORCEMENT_FINE_TUNING",
               "trainingDataConfig": {"s3Uri": train}, "outputDataConfig": {"s3Uri": f"s3://{self.bucket}/out/{name}/"},
               "customizationConfig": {"rftConfig": {
                   "graderConfig": {"lambdaGrader": {"lambdaArn": lambda_arn}},
                   "hyperParameters": {"epochCount": 1, "batchSize": 16, "learningRate": 1e-5,
                                       "trainingSamplePerPrompt": 4, **hp}}}}
        if val:
            req["validationDataConfig"] = {"validators": [{"s3Uri": val}]}
        return req

    def wait(self, arn: str, timeout: float = 60.0) -> tuple[dict, list[tuple]]:
        """Poll until the job ends; returns the last answer and every distinct (status, stage statuses) seen."""
        seen: list[tuple] = []
        deadline = time.monotonic() + timeout
        while True:
            job = self.bedrock.get_model_customization_job(jobIdentifier=arn)
            state = (job["status"], *(job["statusDetails"][k]["status"] for k in
                                      ("validationDetails", "dataProcessingDetails", "trainingDetails")))
            if not seen or seen[-1] != state:
                seen.append(state)
            if job["status"] not in ("InProgress", "Stopping"):
                return job, seen
            if time.monotonic() > deadline:
                pytest.fail(f"job {arn} still {job['status']} after {timeout} s: {seen}")
            time.sleep(0.05)
