"""Prompt files to S3 under content-addressed keys, and reading back the job's outputs.

Keys carry the file's MD5 (`<prefix>/data/<md5>/<name>`), so an unchanged prompt set is
never uploaded twice and a job's training URI names exactly the bytes it trained on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from rftlab.aws import AwsError, aws_errors, client
from rftlab.errors import ConfigError, InputError
from rftlab.io import file_md5

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    path: str
    uri: str
    md5: str
    uploaded: bool  # False when the object was already there


def split_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/key -> (bucket, key)."""
    if not uri.startswith("s3://"):
        raise InputError(f"{uri}: not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise InputError(f"{uri}: no bucket in the S3 URI")
    return bucket, key


def require_bucket(bucket: str | None) -> str:
    if not bucket:
        raise ConfigError("rft.bedrock.bucket is not set: name the S3 bucket that holds prompts and job outputs")
    return bucket


def data_key(prefix: str, md5: str, name: str) -> str:
    return "/".join(p for p in (prefix.strip("/"), "data", md5, name) if p)


def output_uri(bucket: str, prefix: str, spec_hash: str, attempt: int = 0) -> str:
    """Where a job writes its model artifacts and metrics CSVs: one prefix per spec AND attempt,
    so a retried job never shares a folder with the attempt that failed."""
    key = "/".join(p for p in (prefix.strip("/"), "output", spec_hash[:16], f"attempt-{attempt}") if p)
    return f"s3://{bucket}/{key}/"


def _exists(s3, bucket: str, key: str, md5: str) -> bool:
    # botocore loads with the first AWS call: offline commands never pay for it
    from botocore.exceptions import ClientError

    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in {"404", "NoSuchKey", "NotFound"}:
            return False
        if code in {"NoSuchBucket"}:
            raise AwsError(f"S3 bucket {bucket} does not exist (rft.bedrock.bucket)", code) from None
        raise
    return head.get("Metadata", {}).get("md5") == md5 or head.get("ETag", "").strip('"') == md5


def upload_file(
    path: str | Path, *, bucket: str, prefix: str, region: str, kms_key_id: str | None = None
) -> Upload:
    """Upload one file to its content-addressed key unless an identical object is there."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: file not found")
    # botocore loads with the first AWS call: offline commands never pay for it
    from botocore.exceptions import ClientError

    md5 = file_md5(p)
    key = data_key(prefix, md5, p.name)
    uri = f"s3://{bucket}/{key}"
    s3 = client("s3", region)
    with aws_errors(f"uploading {p} to {uri}"):
        _check_bucket(s3, bucket)
        if _exists(s3, bucket, key, md5):
            log.info("%s already at %s", p, uri)
            return Upload(str(p), uri, md5, False)
        extra: dict = {"Metadata": {"md5": md5}, "ContentType": "application/jsonl"}
        if kms_key_id:
            extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key_id)
        with p.open("rb") as fh:
            try:
                s3.put_object(Bucket=bucket, Key=key, Body=fh, **extra)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in {"AccessDenied", "403"}:
                    kms = f" (and kms:GenerateDataKey on {kms_key_id})" if kms_key_id else ""
                    raise AwsError(f"uploading {p}: access denied; the caller needs s3:PutObject on "
                                   f"arn:aws:s3:::{bucket}/{key}{kms}", "AccessDenied") from None
                raise
    log.info("uploaded %s to %s", p, uri)
    return Upload(str(p), uri, md5, True)


def _check_bucket(s3, bucket: str) -> None:
    """A missing bucket gets its own message rather than a bare 404."""
    # botocore loads with the first AWS call: offline commands never pay for it
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in {"404", "NoSuchBucket", "NotFound"}:
            raise AwsError(
                f"S3 bucket {bucket} does not exist or is in another account (set rft.bedrock.bucket to a bucket you own)",
                "NoSuchBucket",
            ) from None
        if code in {"403", "AccessDenied"}:
            raise AwsError(
                f"access denied to S3 bucket {bucket}; the caller needs s3:ListBucket on arn:aws:s3:::{bucket}",
                code,
            ) from None
        raise


def upload_prompts(
    train: str | Path, val: str | Path | None, *, bucket: str | None, prefix: str, region: str,
    kms_key_id: str | None = None,
) -> dict[str, Upload]:
    """Upload the train (and optional val) prompt files; returns {"train": Upload, "val": Upload}."""
    b = require_bucket(bucket)
    out = {"train": upload_file(train, bucket=b, prefix=prefix, region=region, kms_key_id=kms_key_id)}
    if val is not None and Path(val).exists():
        out["val"] = upload_file(val, bucket=b, prefix=prefix, region=region, kms_key_id=kms_key_id)
    return out


def list_keys(uri: str, region: str, suffix: str = "") -> list[str]:
    """Every key under an s3:// prefix ending with `suffix` (paginated)."""
    bucket, prefix = split_uri(uri)
    s3 = client("s3", region)
    keys: list[str] = []
    with aws_errors(f"listing {uri}"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(suffix)]
    return sorted(keys)


def read_text(bucket: str, key: str, region: str) -> str:
    s3 = client("s3", region)
    with aws_errors(f"reading s3://{bucket}/{key}"):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body.decode("utf-8", errors="replace")
