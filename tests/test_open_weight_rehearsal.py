"""One open-weight job end to end, offline: the rehearsal servers (moto S3/IAM/Lambda/ECR, the Bedrock stand-in
and the OpenAI-compatible API stand-in), the real grader packaged as its Lambda image and deployed by
`deploy_grader`, `rftlab rft` on the bedrock_open_weight backend, metrics events built from that Lambda's scores, MLflow.

The open-weight backend runs in its own Region (us-west-2, the Nova backend's is us-east-1) with the grader image
pushed to that Region's ECR; the API's endpoint and key come only from params (rft.bedrock_open_weight.endpoint,
api_key_env), with an unrelated OPENAI_BASE_URL / OPENAI_API_KEY in the environment that must not be used.
"""

from __future__ import annotations

import json
import shutil
import uuid

import pytest
import yaml
from open_weight_support import prompt_rows, write_jsonl
from rehearsal_support import real_grader_context
from typer.testing import CliRunner

from rftlab import contracts, tracking
from rftlab.cli import app


@pytest.fixture
def rehearsal(tmp_path_factory):
    """Packaged right before the job: the image's deployment version hashes this checkout's grader sources."""
    from rftlab.backends.bedrock.rehearsal import servers

    root = tmp_path_factory.mktemp("ow-rehearsal")
    ctx, tag, version = real_grader_context(root)
    from rftlab.backends.bedrock.rehearsal.seed import policy_for
    from rftlab.config.params import Params

    # IAM enforced: the caller holds exactly open-weight-caller-policy.json (all in the open-weight Region)
    with servers.running(workdir=root / "work", context=ctx, image_tag=tag, caller_policy=lambda settings: policy_for(
            settings, Params(), "open-weight-caller-policy.json")) as r:
        yield r, root, ctx, tag, version


def test_an_open_weight_job_runs_end_to_end_into_mlflow_with_the_pinned_grader(rehearsal, tmp_path, monkeypatch):
    from rftlab.aws import client, reset_clients
    from rftlab.backends.bedrock.grader import deploy_grader
    from rftlab.config import load_params
    from rftlab.evaluate.compare import job_row

    r, root, ctx, tag, version = rehearsal
    for key in r.unset:
        monkeypatch.delenv(key, raising=False)
    for key, value in r.env.items():
        monkeypatch.setenv(key, value)
    reset_clients()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RFTLAB_JOBS_DIR", str(tmp_path / ".rftlab/jobs"))
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # unrelated: a closed port
    monkeypatch.setenv("OPENAI_API_KEY", "sk-unrelated")
    bedrock = {k.removeprefix("rft.bedrock."): v for k, v in r.settings.items() if k.startswith("rft.bedrock.")}
    ow = {k.removeprefix("rft.bedrock_open_weight."): v for k, v in r.settings.items()
          if k.startswith("rft.bedrock_open_weight.")}
    assert ow["region"] != bedrock["region"] and f".{ow['region']}." in ow["image_uri"]
    params = {"tracking": {"experiment": f"ow-rehearsal-{uuid.uuid4().hex[:8]}"},
              "rft": {"backend": "bedrock", "base_model": "qwen.qwen3-32b-v1:0",  # routed to the bedrock_open_weight backend
                      "budget_usd": 500.0, "bedrock": {**bedrock, "build_context": str(ctx)},
                      "bedrock_open_weight": {**ow, "poll_s": 0.05, "poll_max_s": 0.2}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    monkeypatch.setenv("RFTLAB_PARAMS", str(tmp_path / "params.yaml"))
    write_jsonl(tmp_path / "data/prompts/train.jsonl", prompt_rows(120))
    write_jsonl(tmp_path / "data/prompts/val.jsonl", prompt_rows(20))
    (tmp_path / "data/grader").mkdir(parents=True)
    shutil.copy(root / "grader.json", tmp_path / "data/grader/grader.json")
    try:
        result = CliRunner().invoke(app, ["rft", "--quiet"])
        assert result.exit_code == 0, result.output
        assert r.enforcer.denials == []

        (job,) = r.openai.state.jobs.values()
        assert job.status == "succeeded" and job.body["model"] == "qwen.qwen3-32b-v1:0"
        lambda_arn = job.body["method"]["reinforcement"]["grader"]["lambda"]["function"]
        assert lambda_arn.split(":")[3] == ow["region"]  # published in the open-weight Region
        got = client("lambda", ow["region"]).get_function(FunctionName=lambda_arn)
        fn = got["Configuration"]
        assert lambda_arn.rsplit(":", 1)[-1].isdigit()  # a published version, not $LATEST
        assert fn["Environment"]["Variables"]["RFTLAB_GRADER_VERSION"] == tag
        assert got["Code"]["ImageUri"] == ow["image_uri"]  # from that Region's own image
        # the repository there lets Lambda pull (ECR repository policy, Principal lambda.amazonaws.com)
        policy = json.loads(client("ecr", ow["region"]).get_repository_policy(
            repositoryName=bedrock["ecr_repository"])["policyText"])
        assert any(s.get("Principal") == {"Service": "lambda.amazonaws.com"} for s in policy["Statement"])
        # the same deployment in the same Region deploys nothing new: it is pinned to the very same version
        lam = load_params().rft.bedrock.model_copy(update={"region": ow["region"]})
        again = deploy_grader("data/grader/grader.json", lam, image_uri=ow["image_uri"])
        assert again.reused and again.lambda_arn == lambda_arn

        record = json.loads((tmp_path / "data/rft/job.json").read_text())
        assert record["backend"] == "bedrock_open_weight" and record["model_id"] == job.fine_tuned_model
        (run,) = tracking.find_runs(contracts.JOB_ID, job.id)
        curve = tracking.metric_history(run.info.run_id, "train/reward_mean")
        events = [e["data"]["critic_rewards_mean"] for e in sorted(
            (e for e in job.events if e["type"] == "metrics"), key=lambda e: e["data"]["step"])]
        assert [v for _, v in curve] == pytest.approx(events) and all(0.0 <= v <= 1.0 for v in events)
        row = job_row(run)
        assert (row["backend"], row["grader_version"], row["params"]["base_model"]) == (
            "bedrock_open_weight", version, "qwen.qwen3-32b-v1:0")
        assert row["prompts_digest"] and row["cost_usd"] is not None
    finally:
        reset_clients()
