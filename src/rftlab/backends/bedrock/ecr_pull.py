"""Let Lambda pull the grader image: the ECR repository policy, and the image's Region.

A Lambda function made from a container image needs the image in an Amazon ECR repository of the
function's Region, and the repository's policy must let `lambda.amazonaws.com` call
ecr:BatchGetImage and ecr:GetDownloadUrlForLayer (Lambda developer guide, "Create a Lambda function
using a container image", requirements and "Amazon ECR permissions":
https://docs.aws.amazon.com/lambda/latest/dg/images-create.html; the same repository policy is AWS
re:Post knowledge center's answer for "Lambda does not have permission to access the ECR image":
https://repost.aws/knowledge-center/lambda-ecr-image). Lambda adds that statement itself only when
the caller may call ecr:GetRepositoryPolicy and ecr:SetRepositoryPolicy; rftlab sets it explicitly,
keeping any statements already there, so a least-privilege caller sees what is granted.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from rftlab.aws import aws_errors, client
from rftlab.errors import ConfigError

log = logging.getLogger(__name__)

SID = "LambdaECRImageRetrievalPolicy"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
# <account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag|@digest] (ECR user guide, "Private registry")
_ECR_URI = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/"
                      r"(?P<repo>[a-z0-9._/-]+?)(:[\w.-]+)?(@sha256:[0-9a-f]{64})?$")


def parse_image_uri(image_uri: str) -> tuple[str, str, str] | None:
    """(account, region, repository) of a private ECR image URI; None for anything else."""
    m = _ECR_URI.match(image_uri)
    return (m.group("account"), m.group("region"), m.group("repo")) if m else None


def check_image_region(image_uri: str, region: str, key: str) -> tuple[str, str, str] | None:
    """Refuse an ECR image in another Region than the function's (Lambda cannot use it)."""
    parts = parse_image_uri(image_uri)
    if parts and parts[1] != region:
        raise ConfigError(f"{key}: image {image_uri} is in {parts[1]}, the grader Lambda in {region}: Lambda needs "
                          f"the image in an ECR repository of the function's Region (push it to {region}, "
                          "or leave the image unset to build it there)")
    return parts


def lambda_pull_statement() -> dict[str, Any]:
    return {"Sid": SID, "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": PULL}


def with_lambda_pull(policy_text: str | None) -> str | None:
    """The repository policy with Lambda's pull statement added; None when it already grants the pull."""
    doc: dict[str, Any] = json.loads(policy_text) if policy_text else {"Version": "2012-10-17", "Statement": []}
    stmts = doc.get("Statement") or []
    stmts = [stmts] if isinstance(stmts, dict) else list(stmts)
    for s in stmts:
        principal = (s.get("Principal") or {}) if isinstance(s.get("Principal"), dict) else {}
        services = principal.get("Service", [])
        services = [services] if isinstance(services, str) else services
        actions = s.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if (s.get("Effect") == "Allow" and "lambda.amazonaws.com" in services and not s.get("Condition")
                and all(a in actions or "ecr:*" in actions for a in PULL)):
            return None
    doc["Statement"] = [s for s in stmts if s.get("Sid") != SID] + [lambda_pull_statement()]
    return json.dumps(doc)


def ensure_lambda_pull(repository: str, region: str) -> bool:
    """Make the repository's policy let Lambda pull; True when it had to be set."""
    # botocore loads with the first AWS call: offline commands never pay for it
    from botocore.exceptions import ClientError

    ecr = client("ecr", region)
    with aws_errors(f"reading the repository policy of ECR repository {repository}"):
        try:
            current = ecr.get_repository_policy(repositoryName=repository).get("policyText")
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "RepositoryNotFoundException":  # Lambda itself will refuse the image, naming it
                log.warning("ECR repository %s not found in %s: cannot let Lambda pull from it", repository, region)
                return False
            if code != "RepositoryPolicyNotFoundException":
                raise
            current = None
    wanted = with_lambda_pull(current)
    if wanted is None:
        return False
    with aws_errors(f"letting Lambda pull from ECR repository {repository}"):
        ecr.set_repository_policy(repositoryName=repository, policyText=wanted)
    log.info("ECR repository %s: repository policy now lets lambda.amazonaws.com pull", repository)
    return True
