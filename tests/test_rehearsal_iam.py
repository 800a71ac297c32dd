"""The Bedrock path under IAM enforcement: the caller holds exactly the generated caller policy, and each of its
statements is needed.

The rehearsal's servers run with a caller policy (servers.running(caller_policy=...)): the env holds the access
key of an IAM user holding exactly that document in moto's IAM; moto (S3, IAM, STS, Lambda, ECR) and the
Bedrock stand-ins authorize every call against it (rehearsal/enforce.py, bedrock_needs.py). The flow is what the
pipeline's rft, deploy and evaluate stages call: `rftlab rft` (trust check, prompt upload, grader image push
and Lambda deploy, job create/follow/metrics), `rftlab deploy`, and Converse on the base model's inference
profile and on the deployment. With the full policy it finishes; with one statement removed it fails on the
call that needed it, naming the action.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid

import pytest
import yaml
from open_weight_support import prompt_rows, write_jsonl
from rehearsal_support import real_grader_context
from typer.testing import CliRunner

from rftlab.cli import app

# statements the flow cannot reach, each with its reason (they are still generated for real use)
UNREACHED = {
    "EcrLogin": "ecr:GetAuthorizationToken is called by `aws ecr get-login-password` before `docker push`, "
                "outside boto3; the rehearsal stands in for the push with PutImage",
}


def _statements() -> list[str]:
    from rftlab.backends.bedrock.iam import documents
    from rftlab.config.params import Params

    return [s["Sid"] for s in documents(Params(), account="123456789012")["caller-policy.json"]["Statement"]]


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    root = tmp_path_factory.mktemp("iam-image")
    ctx, tag, _ = real_grader_context(root)
    return root, ctx, tag


def _flow(tmp_path, monkeypatch, image, drop: str | None) -> tuple[int, str, dict]:
    """Run rft -> deploy -> Converse as the caller; (exit code of the first failing step or 0, its output, facts)."""
    from rftlab.aws import AwsError, reset_clients
    from rftlab.aws.converse import ConverseGenerator
    from rftlab.backends.bedrock import grader
    from rftlab.backends.bedrock.rehearsal import servers
    from rftlab.backends.bedrock.rehearsal.seed import fake_manifest, policy_for
    from rftlab.config import load_params

    root, ctx, tag = image
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"rft": {"backend": "bedrock"}}), encoding="utf-8")
    monkeypatch.setenv("RFTLAB_PARAMS", str(tmp_path / "params.yaml"))
    base = load_params()

    def policy(settings):
        doc = policy_for(settings, base)
        doc["Statement"] = [s for s in doc["Statement"] if s["Sid"] != drop]
        return doc

    with servers.running(workdir=tmp_path / "work", context=ctx, caller_policy=policy) as r:
        for key in r.unset:
            monkeypatch.delenv(key, raising=False)
        for key, value in r.env.items():
            monkeypatch.setenv(key, value)
        reset_clients()
        monkeypatch.setenv("RFTLAB_JOBS_DIR", str(tmp_path / ".rftlab/jobs"))
        bedrock = {k.removeprefix("rft.bedrock."): v for k, v in r.settings.items()
                   if k.startswith("rft.bedrock.") and k != "rft.bedrock.image_uri"}  # the caller builds and pushes
        params = {"tracking": {"experiment": f"iam-{uuid.uuid4().hex[:8]}"},
                  "rft": {"backend": "bedrock", "budget_usd": 500.0, "bedrock": {
                      **bedrock, "build_context": str(ctx), "poll_s": 0.05, "poll_max_s": 0.2}}}
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
        write_jsonl(tmp_path / "data/prompts/train.jsonl", prompt_rows(120))
        write_jsonl(tmp_path / "data/prompts/val.jsonl", prompt_rows(20))
        (tmp_path / "data/grader").mkdir(parents=True)
        shutil.copy(root / "grader.json", tmp_path / "data/grader/grader.json")

        def push(commands):  # `docker push` as the caller: PutImage into the repository rftlab prepared
            from rftlab.aws import client

            image_ref = commands[-1].split()[-1]
            repo, _, image_tag = image_ref.rpartition("/")[2].partition(":")
            client("ecr", r.settings["rft.bedrock.region"]).put_image(
                repositoryName=repo, imageManifest=fake_manifest(ctx), imageTag=image_tag)

        monkeypatch.setattr(grader, "docker_available", lambda: True)
        monkeypatch.setattr(grader, "build_and_push", push)
        facts: dict = {"denials": r.enforcer.denials}
        try:
            for argv in (["rft", "--quiet"], ["deploy", "--job", "data/rft/job.json", "--out", "data/rft/deployment.json"]):
                result = CliRunner().invoke(app, argv)
                if result.exit_code != 0:
                    return result.exit_code, result.output + repr(result.exception), facts
            deployment = json.loads((tmp_path / "data/rft/deployment.json").read_text())
            facts["deployment"] = deployment
            region = r.settings["rft.bedrock.region"]
            msgs = [{"role": "user", "content": "明日の会議の件"}]
            try:
                for model in ("amazon.nova-2-lite-v1:0:256k", deployment["deployment_arn"]):  # base side, tuned side
                    ConverseGenerator(model, region, progress=False).converse(msgs, temperature=1.0, max_tokens=8)
            except AwsError as exc:
                return 1, str(exc), facts
            return 0, "", facts
        finally:
            reset_clients()


def test_the_bedrock_path_runs_as_a_caller_holding_exactly_the_generated_policy(tmp_path, monkeypatch, image):
    code, output, facts = _flow(tmp_path, monkeypatch, image, drop=None)
    assert code == 0, output
    assert facts["denials"] == []
    assert facts["deployment"]["deployment_arn"].startswith("arn:aws:bedrock:")


@pytest.mark.slow
@pytest.mark.parametrize("sid", [s for s in _statements() if s not in UNREACHED])
def test_each_statement_is_needed_and_its_absence_names_the_action(tmp_path, monkeypatch, image, sid):
    from rftlab.backends.bedrock.iam import documents
    from rftlab.config.params import Params

    stmt = next(s for s in documents(Params(), account="123456789012")["caller-policy.json"]["Statement"]
                if s["Sid"] == sid)
    code, output, facts = _flow(tmp_path, monkeypatch, image, drop=sid)
    assert code != 0, f"removing {sid} changed nothing"
    assert facts["denials"], output
    denied = facts["denials"][0].split("not authorized to perform: ")[1].split()[0]
    assert denied in stmt["Action"], (sid, facts["denials"][0])
    assert re.search(rf"needs (permission )?{re.escape(denied)}\b", " ".join(output.split())), output
