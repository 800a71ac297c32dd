"""moto (S3, IAM, STS, Lambda, ECR) and the Bedrock stand-in on 127.0.0.1, a seeded fake account, the env.

moto runs in server mode (`moto.server.ThreadedMotoServer`, http://docs.getmoto.org/en/latest/docs/server_mode.html)
so that any process, DVC stages included, reaches it through the standard per-service endpoint
variables (`AWS_ENDPOINT_URL_<SERVICE ID>`, honoured by botocore since 1.31). The env also holds fake
credentials, empty AWS config files (a user's profile cannot leak in) and `AWS_ENDPOINT_URL` pointing
at a closed local port, so a call to any other service fails here instead of reaching AWS.
moto validates Lambda image URIs against its ECR (`MOTO_LAMBDA_STUB_ECR=false`), so the grader's
"image" is pushed to the fake repository first: a manifest tagged with the grader version.
The OpenAI-compatible fine-tuning API of open-weight jobs has its own stand-in (openai_api.py), reached
through what params.yaml names (`rft.bedrock_open_weight.endpoint` and the variable named by
`api_key_env`); it grades with the same published grader versions in moto's Lambda, in the open-weight
Region (us-west-2 by default, not the Nova backend's), from an image pushed to that Region's ECR.
With a caller policy, IAM is enforced (enforce.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rftlab.backends.bedrock.rehearsal import enforce
from rftlab.backends.bedrock.rehearsal.lambdas import GraderFunction
from rftlab.backends.bedrock.rehearsal.openai_api import OpenAIStandIn
from rftlab.backends.bedrock.rehearsal.openai_jobs import Options
from rftlab.backends.bedrock.rehearsal.options import StandInOptions
from rftlab.backends.bedrock.rehearsal.seed import ACCOUNT, CallerPolicy, add_caller, fake_manifest, seed
from rftlab.backends.bedrock.rehearsal.standin import StandIn
from rftlab.errors import ConfigError

__all__ = ["ACCOUNT", "Rehearsal", "fake_manifest", "running"]
API_KEY_ENV = "RFTLAB_REHEARSAL_API_KEY"  # named by rft.bedrock_open_weight.api_key_env in the rehearsal's params
API_KEY = "rehearsal"
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
    enforcer: enforce.Enforcer | None = None  # IAM enforcement (None: every call passes)

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


@contextlib.contextmanager
def running(*, workdir: Path, context: Path | None = None, image_tag: str | None = None,
            model_dir: Path | None = None, repository: str = "rftlab-grader", region: str = "us-east-1",
            open_weight_region: str = "us-west-2", caller_policy: CallerPolicy | None = None,
            **standin: Any) -> Iterator[Rehearsal]:
    """Start moto and the stand-in, seed the fake account; everything is stopped (and moto reset) on exit.

    With `caller_policy` (seeded settings -> policy document) IAM is enforced (enforce.py): the env holds the
    access key of an IAM user holding exactly that document, and every call to moto and to the stand-ins'
    Bedrock APIs is authorized against it; the stand-ins themselves act as AWS with the rehearsal's own key.
    Long: starts three servers and seeds the account in order; every step is undone in `finally`.
    """
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request at INFO
    old_stub = os.environ.get("MOTO_LAMBDA_STUB_ECR")
    os.environ["MOTO_LAMBDA_STUB_ECR"] = "false"  # Lambda must find the image in (fake) ECR
    moto = _moto()
    moto.start()
    stand: StandIn | None = None
    ow: OpenAIStandIn | None = None
    with contextlib.ExitStack() as stack:
        try:
            host, port = moto.get_host_and_port()
            moto_url = f"http://{host}:{port}"
            _reset(moto_url)
            fail = standin.pop("fail", None) or os.environ.get("RFTLAB_REHEARSAL_FAIL") or None
            opts = StandInOptions(aws_endpoint=moto_url, region=region, account=ACCOUNT, default_context=context,
                                  model_dir=model_dir, workdir=workdir, fail=fail, **standin)
            bucket = f"rftlab-rehearsal-{uuid.uuid4().hex[:8]}"  # new per run: DVC's run cache never replays a job
            settings = seed(opts, bucket=bucket, repository=repository, tag=image_tag, context=context,
                            open_weight_region=open_weight_region)
            key_id, secret = "rehearsal", "rehearsal"
            enforcer = None
            if caller_policy is not None:
                enforcer = enforce.Enforcer(ACCOUNT)
                enforcer.add("rehearsal", f"arn:aws:iam::{ACCOUNT}:root", None)  # AWS's side: seeding, the stand-ins
                policy = caller_policy(settings)
                user_arn, key_id, secret = add_caller(opts, policy)
                enforcer.add(key_id, user_arn, policy)
                opts.authorizer = enforcer
                stack.enter_context(contextlib.contextmanager(enforce.install)(enforcer))
            stand = StandIn(opts).start()

            # open-weight jobs call the same published grader versions in moto's Lambda, run like Bedrock runs them
            ow = OpenAIStandIn(lambda arn: GraderFunction(arn, opts).invoke,
                               Options(api_key=API_KEY, fail=fail, seed=opts.seed)).start()
            # the open-weight backend reads only what params.yaml names (endpoint, api_key_env), never OPENAI_*
            settings.update({"rft.bedrock_open_weight.endpoint": ow.url,
                             "rft.bedrock_open_weight.api_key_env": API_KEY_ENV})
            workdir.mkdir(parents=True, exist_ok=True)
            for name in ("aws-config", "aws-credentials"):
                (workdir / name).write_text("", encoding="utf-8")
            env = {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": region,
                   "AWS_DEFAULT_REGION": region, "AWS_EC2_METADATA_DISABLED": "true",
                   "AWS_CONFIG_FILE": str(workdir / "aws-config"),
                   "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "aws-credentials"), "AWS_ENDPOINT_URL": CLOSED,
                   "AWS_ENDPOINT_URL_BEDROCK": stand.bedrock_url, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": stand.runtime_url,
                   API_KEY_ENV: API_KEY, **{f"AWS_ENDPOINT_URL_{s}": moto_url for s in MOTO_SERVICES}}
            yield Rehearsal(env=env, settings=settings, standin=stand, moto_url=moto_url, openai=ow, enforcer=enforcer)
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
