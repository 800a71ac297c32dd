"""moto (S3, IAM, STS, Lambda, ECR) and the Bedrock stand-in on 127.0.0.1, a seeded fake account, the env.

moto runs in server mode (`moto.server.ThreadedMotoServer`, http://docs.getmoto.org/en/latest/docs/server_mode.html)
so that any process, DVC stages included, reaches it through the standard per-service endpoint
variables (`AWS_ENDPOINT_URL_<SERVICE ID>`, honoured by botocore since 1.31). The env also holds fake
credentials, empty AWS config files (a user's profile cannot leak in) and `AWS_ENDPOINT_URL` pointing
at a closed local port, so a call to any other service fails here instead of reaching AWS.
moto validates Lambda image URIs against its ECR (`MOTO_LAMBDA_STUB_ECR=false`), so the grader's
"image" is pushed to the fake repository first: a manifest tagged with the grader version.
The OpenAI-compatible fine-tuning API of open-weight jobs has its own stand-in (openai_api.py), reached
through the variables AWS documents for it, `OPENAI_BASE_URL` and `OPENAI_API_KEY`; it grades with the
same published grader versions in moto's Lambda.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rftlab.backends.bedrock.iam import trust_policy
from rftlab.backends.bedrock.rehearsal.lambdas import GraderFunction
from rftlab.backends.bedrock.rehearsal.openai_api import OpenAIStandIn
from rftlab.backends.bedrock.rehearsal.openai_jobs import Options
from rftlab.backends.bedrock.rehearsal.options import StandInOptions
from rftlab.backends.bedrock.rehearsal.standin import StandIn
from rftlab.errors import ConfigError

ACCOUNT = "123456789012"  # moto's default account id
SERVICE_ROLE = "rftlab-bedrock-rft"
LAMBDA_ROLE = "rftlab-grader-exec"
CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens, every request is refused locally
MOTO_SERVICES = ("S3", "IAM", "STS", "LAMBDA", "ECR")
UNSET = ("OPENAI_BASE_URL", "OPENAI_API_KEY", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN",
         "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
         "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT")


@dataclass
class Rehearsal:
    """Running servers: the env to give boto3, and the `rft.bedrock` settings the seeded account needs."""

    env: dict[str, str]
    settings: dict[str, Any]
    standin: StandIn
    moto_url: str
    unset: tuple[str, ...] = UNSET
    openai: OpenAIStandIn | None = None  # the OpenAI-compatible fine-tuning API (open-weight jobs)

    def child_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """`base` (default os.environ) with the fake account's variables in and the user's AWS ones out."""
        env = {k: v for k, v in (base if base is not None else os.environ).items()
               if k not in self.unset and not k.startswith("AWS_ENDPOINT_URL")}
        env.update(self.env)
        return env

    def exports(self) -> str:
        lines = [f"unset {' '.join(self.unset)}"]
        lines += [f"export {k}={v}" for k, v in sorted(self.env.items())]
        return "\n".join(lines)


def _moto() -> Any:
    try:
        # moto loads only when the rehearsal starts
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise ConfigError(f"the rehearsal needs moto's server mode ({exc}); install the dev extras: "
                          "pip install -e '.[dev]'") from None
    return ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)


def _reset(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).read()


def fake_manifest(context: Path | None) -> str:
    """A Docker image manifest whose config digest names the build context's manifest (moto reads config.size)."""
    seed = (context / "manifest.json").read_bytes() if context and (context / "manifest.json").exists() else b"{}"
    digest = "sha256:" + hashlib.sha256(seed).hexdigest()
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(seed),
                                  "digest": digest}, "layers": []})


def seed(opts: StandInOptions, *, bucket: str, repository: str, tag: str | None, context: Path | None) -> dict[str, Any]:
    """Bucket, the two roles, the ECR repository and (with `tag`) the grader image; returns rft.bedrock settings."""

    opts.client("s3").create_bucket(Bucket=bucket)
    iam = opts.client("iam")
    lam_trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    roles = {}
    for name, doc in ((SERVICE_ROLE, trust_policy(ACCOUNT, opts.region)), (LAMBDA_ROLE, lam_trust)):
        roles[name] = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(doc))["Role"]["Arn"]
    ecr = opts.client("ecr")
    repo_uri = ecr.create_repository(repositoryName=repository)["repository"]["repositoryUri"]
    settings: dict[str, Any] = {"rft.bedrock.bucket": bucket, "rft.bedrock.role_arn": roles[SERVICE_ROLE],
                                "rft.bedrock.lambda_role_arn": roles[LAMBDA_ROLE],
                                "rft.bedrock.region": opts.region, "rft.bedrock.ecr_repository": repository}
    if tag:
        ecr.put_image(repositoryName=repository, imageManifest=fake_manifest(context), imageTag=tag)
        settings["rft.bedrock.image_uri"] = f"{repo_uri}:{tag}"
        if context is not None:
            opts.images[f"{repo_uri}:{tag}"] = context
    return settings


@contextlib.contextmanager
def running(*, workdir: Path, context: Path | None = None, image_tag: str | None = None,
            model_dir: Path | None = None, repository: str = "rftlab-grader", region: str = "us-east-1",
            **standin: Any) -> Iterator[Rehearsal]:
    """Start moto and the stand-in, seed the fake account; everything is stopped (and moto reset) on exit."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request at INFO
    old_stub = os.environ.get("MOTO_LAMBDA_STUB_ECR")
    os.environ["MOTO_LAMBDA_STUB_ECR"] = "false"  # Lambda must find the image in (fake) ECR
    moto = _moto()
    moto.start()
    stand: StandIn | None = None
    ow: OpenAIStandIn | None = None
    try:
        host, port = moto.get_host_and_port()
        moto_url = f"http://{host}:{port}"
        _reset(moto_url)
        fail = standin.pop("fail", None) or os.environ.get("RFTLAB_REHEARSAL_FAIL") or None
        opts = StandInOptions(aws_endpoint=moto_url, region=region, account=ACCOUNT, default_context=context,
                              model_dir=model_dir, workdir=workdir, fail=fail, **standin)
        bucket = f"rftlab-rehearsal-{uuid.uuid4().hex[:8]}"  # new per run: DVC's run cache never replays a job
        settings = seed(opts, bucket=bucket, repository=repository, tag=image_tag, context=context)
        stand = StandIn(opts).start()

        # open-weight jobs call the same published grader versions in moto's Lambda, run like Bedrock runs them
        ow = OpenAIStandIn(lambda arn: GraderFunction(arn, opts).invoke,
                           Options(api_key="rehearsal", fail=fail, seed=opts.seed)).start()
        workdir.mkdir(parents=True, exist_ok=True)
        for name in ("aws-config", "aws-credentials"):
            (workdir / name).write_text("", encoding="utf-8")
        env = {"AWS_ACCESS_KEY_ID": "rehearsal", "AWS_SECRET_ACCESS_KEY": "rehearsal", "AWS_REGION": region,
               "AWS_DEFAULT_REGION": region, "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_CONFIG_FILE": str(workdir / "aws-config"),
               "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "aws-credentials"), "AWS_ENDPOINT_URL": CLOSED,
               "AWS_ENDPOINT_URL_BEDROCK": stand.bedrock_url, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": stand.runtime_url,
               "OPENAI_BASE_URL": ow.url, "OPENAI_API_KEY": "rehearsal",
               **{f"AWS_ENDPOINT_URL_{s}": moto_url for s in MOTO_SERVICES}}
        yield Rehearsal(env=env, settings=settings, standin=stand, moto_url=moto_url, openai=ow)
    finally:
        if ow is not None:
            ow.stop()
        if stand is not None:
            stand.stop()
        with contextlib.suppress(OSError):
            _reset(f"http://{moto.get_host_and_port()[0]}:{moto.get_host_and_port()[1]}")
        moto.stop()
        if old_stub is None:
            os.environ.pop("MOTO_LAMBDA_STUB_ECR", None)
        else:
            os.environ["MOTO_LAMBDA_STUB_ECR"] = old_stub
