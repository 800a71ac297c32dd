"""The one place rftlab's code makes boto3 clients, and AWS errors become one readable line. (The offline
rehearsal's stand-ins play AWS itself and talk to moto with their own fake credentials:
backends/bedrock/rehearsal/options.py.)

Clients retry throttling with botocore's adaptive mode; callers wrap calls in
`aws_errors("what we were doing")` so AccessDenied, missing credentials or a missing
bucket reach the user as an RftlabError naming the operation and the missing permission.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from rftlab.errors import RftlabError


class AwsError(RftlabError):
    """An AWS call failed for a reason the user can fix (credentials, permissions, names)."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.code = code


def client_config(total_max_attempts: int = 8) -> Any:
    """Adaptive retries, 8 sends at most (the first included); the only retry loop rftlab has."""
    from botocore.config import (
        Config,  # botocore loads with the first client: `rftlab --help` stays fast
    )

    return Config(retries={"total_max_attempts": total_max_attempts, "mode": "adaptive"}, user_agent_extra="rftlab")


# Nova inference can take up to 60 minutes; AWS recommends read_timeout=3600 for bedrock-runtime
# (Nova 2 user guide, "Core inference": https://docs.aws.amazon.com/nova/latest/nova2-userguide/core-inference.html).
READ_TIMEOUT_S = {"bedrock-runtime": 3600}


@lru_cache(maxsize=32)
def client(service: str, region: str | None = None) -> Any:
    """A cached boto3 client with adaptive retries (tests replace it with a Stubber or moto)."""
    import boto3  # loaded with the first client: `rftlab --help` and offline stages never pay for it

    config = client_config()
    if service in READ_TIMEOUT_S:
        config = config.merge(type(config)(read_timeout=READ_TIMEOUT_S[service]))
    return boto3.session.Session().client(service, region_name=region, config=config)


def short_client(service: str, region: str, *, timeout_s: float, attempts: int = 3) -> Any:
    """An uncached client for calls that must end within a deadline (the relevance judge inside the
    grader Lambda): connect within min(5 s, timeout), read within the timeout, standard retries."""
    import boto3  # the Lambda runtime ships the SDK for Python (Lambda developer guide, lambda-python.html)
    from botocore.config import Config

    return boto3.session.Session().client(service, region_name=region, config=Config(
        connect_timeout=min(5.0, timeout_s), read_timeout=timeout_s,
        retries={"mode": "standard", "total_max_attempts": attempts}, user_agent_extra="rftlab"))


def credentials_available() -> bool:
    """True when boto3 can find AWS credentials (env, profile, role); never calls AWS."""
    # boto3 loads with the first AWS call
    import boto3

    return boto3.session.Session().get_credentials() is not None


def reset_clients() -> None:
    """Forget cached clients (tests that switch moto/Stubber per test call this)."""
    client.cache_clear()


_ACTION = re.compile(r"not authorized to perform: ([\w:*-]+)")


@contextlib.contextmanager
def aws_errors(doing: str) -> Iterator[None]:
    """Translate botocore failures raised inside the block into AwsError naming `doing`."""
    # botocore loads with the first AWS call: offline commands never pay for it
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        NoRegionError,
    )

    try:
        yield
    except NoCredentialsError:
        raise AwsError(
            f"{doing}: no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)",
            "NoCredentials",
        ) from None
    except NoRegionError:
        raise AwsError(f"{doing}: no AWS region set (the region in params.yaml, or AWS_REGION)", "NoRegion") from None
    except ClientError as exc:
        err = exc.response.get("Error", {})
        code = err.get("Code", "Unknown")
        msg = err.get("Message", str(exc))
        op = getattr(exc, "operation_name", "") or "request"
        if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403"}:
            m = _ACTION.search(msg)
            needed = m.group(1) if m else _guess_action(exc)
            raise AwsError(f"{doing}: access denied to {op}; the caller needs permission {needed} ({msg})", code) from None
        raise AwsError(f"{doing}: {op} failed with {code}: {msg}", code) from None
    except BotoCoreError as exc:
        raise AwsError(f"{doing}: {exc}", type(exc).__name__) from None


# S3 answers HEAD requests without a body, so the message cannot name the action: HeadObject is authorized
# as s3:GetObject, HeadBucket as s3:ListBucket (Amazon S3 API reference, API_HeadObject.html, API_HeadBucket.html)
_BODYLESS = {"HeadObject": "s3:GetObject", "HeadBucket": "s3:ListBucket"}


def _guess_action(exc: Any) -> str:
    """service:Operation from the failing call, e.g. s3:PutObject."""
    op = getattr(exc, "operation_name", "") or "*"
    if op in _BODYLESS:
        return _BODYLESS[op]
    meta = getattr(exc, "response", {}).get("ResponseMetadata", {})
    service = meta.get("ServiceName") or "<service>"
    return f"{service}:{op}"
