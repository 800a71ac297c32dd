"""IAM enforcement in the rehearsal: every request to moto and to the Bedrock stand-in is authorized against
the identity policy of the access key that signed it.

moto documents an IAM enforcement mode (`INITIAL_NO_AUTH_ACTION_COUNT`, in server mode the
`/moto-api/reset-auth` endpoint: http://docs.getmoto.org/en/latest/docs/iam.html) and warns that it is
"very basic". Measured with moto 5.2.5 as the rehearsal uses it: S3 is authorized per bucket and key,
but Lambda requests fail moto's signature check and ECR/Lambda requests are authorized against the
resource "*" (so a policy scoped to a repository or function ARN denies everything), and implied
permissions (iam:PassRole on CreateFunction, lambda:TagResource for `Tags`) are never checked. So the
rehearsal turns moto's mode on (the counter) and replaces its authorizer, inside the rehearsal's own
moto server only, with this one: the access key must belong to a principal the rehearsal created
(an unknown key is refused as moto refuses it), and the action and resource ARN each request needs are
derived here from the request (the per-service rules below, each with its AWS source) and evaluated
by rftlab.backends.bedrock.policy_eval against the principal's policy, the same document that was put
into moto's IAM for that user. The Bedrock stand-in calls `authorize` the same way.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rftlab.backends.bedrock import policy_eval

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
# S3 operations authorized by another action (Amazon S3 API reference: API_HeadObject.html needs
# s3:GetObject; API_HeadBucket.html and API_ListObjectsV2.html need s3:ListBucket)
S3_ACTIONS = {"HeadObject": "GetObject", "HeadBucket": "ListBucket", "ListObjectsV2": "ListBucket",
              "ListObjects": "ListBucket"}
FREE = {"sts:GetCallerIdentity"}  # no permission needed (STS API reference, API_GetCallerIdentity.html)


class Denied(Exception):
    def __init__(self, message: str, action: str):
        super().__init__(message)
        self.action = action


@dataclass
class Principal:
    arn: str
    policy: dict[str, Any] | None  # None: the rehearsal's own "AWS side" (seeding, the services themselves)


@dataclass
class Need:
    """One permission a request needs: action, resource, and the request's condition keys."""

    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)


@dataclass
class Enforcer:
    """Access key -> principal; `authorize` raises Denied naming the action when the policy does not allow it."""

    account: str
    principals: dict[str, Principal] = field(default_factory=dict)
    denials: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, access_key: str, arn: str, policy: dict[str, Any] | None) -> None:
        self.principals[access_key] = Principal(arn, policy)

    def principal(self, headers: Any) -> Principal | None:
        m = _CREDENTIAL.search(headers.get("Authorization") or "")
        return self.principals.get(m.group(1)) if m else None

    def authorize(self, headers: Any, needs: list[Need]) -> None:
        who = self.principal(headers)
        if who is None:
            raise Denied("The security token included in the request is invalid.", "")
        if who.policy is None:
            return
        for need in needs:
            if need.action in FREE:
                continue
            decision = policy_eval.evaluate(who.policy, need.action, need.resource, need.context)
            if not decision.allowed:
                message = policy_eval.denial(who.arn, need.action, need.resource, explicit=decision.statement is not None)
                with self._lock:
                    self.denials.append(message)
                raise Denied(message, need.action)


def _json(body: Any) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except (ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


def lambda_needs(op: str, path: str, query: dict[str, Any], body: Any, region: str, account: str) -> list[Need]:
    """Lambda: the action is the operation (Invoke -> InvokeFunction), the resource the function ARN, qualified
    when the request names a version (Lambda developer guide, lambda-api-permissions-ref.html). CreateFunction
    passes the execution role (iam:PassRole, iam:PassedToService); CreateFunction with Tags needs
    lambda:TagResource and GetFunction lambda:ListTags (configuration-tags.html)."""
    data = _json(body)
    m = re.search(r"/functions/([^/?]+)", path) or re.search(r"/tags/([^/?]+)", path)
    name = urllib.parse.unquote(m.group(1)) if m else str(data.get("FunctionName") or "*")
    arn = name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"
    qualifier = (query.get("Qualifier") or [None])[0] if isinstance(query.get("Qualifier"), list) else query.get("Qualifier")
    if qualifier and arn.count(":") == 6:
        arn = f"{arn}:{qualifier}"
    action = {"Invoke": "InvokeFunction", "ListVersionsByFunction": "ListVersionsByFunction"}.get(op, op)
    needs = [Need(f"lambda:{action}", "*" if op == "ListFunctions" else arn)]
    if op in ("CreateFunction", "UpdateFunctionConfiguration") and data.get("Role"):
        needs.append(Need("iam:PassRole", data["Role"], {"iam:PassedToService": "lambda.amazonaws.com"}))
    if op == "CreateFunction" and data.get("Tags"):
        needs.append(Need("lambda:TagResource", arn))
    if op == "GetFunction":
        needs.append(Need("lambda:ListTags", arn.rsplit(":", 1)[0] if arn.count(":") > 6 else arn))
    return needs


def ecr_needs(op: str, body: Any, region: str, account: str) -> list[Need]:
    """ECR: action = operation on the repository ARN; GetAuthorizationToken on "*" (ECR user guide, image-push-iam.html)."""
    data = _json(body)
    names = data.get("repositoryNames") or [data.get("repositoryName")]
    resource = f"arn:aws:ecr:{region}:{account}:repository/{names[0]}" if names and names[0] else "*"
    return [Need(f"ecr:{op}", "*" if op == "GetAuthorizationToken" else resource)]


def iam_needs(op: str, query: dict[str, Any], account: str) -> list[Need]:
    role = query.get("RoleName")
    role = role[0] if isinstance(role, list) else role
    return [Need(f"iam:{op}", f"arn:aws:iam::{account}:role/{role}" if role else "*")]


def needs_for(response: Any, resource: str, account: str) -> list[Need]:
    """What one moto request needs, from moto's parsed request (`response`: moto's BaseResponse)."""
    service = {"awslambda": "lambda"}.get(response.service_name, response.service_name)
    op = response._get_action()
    if service == "s3":
        return [Need(f"s3:{S3_ACTIONS.get(op, op)}", resource)]
    if service == "lambda":
        return lambda_needs(op, response.path, response.querystring, response.body, response.region, account)
    if service == "ecr":
        return ecr_needs(op, response.body, response.region, account)
    if service == "iam":
        return iam_needs(op, response.querystring, account)
    return [Need(f"{service}:{op}", resource)]


def _moto_error(response: Any, exc: Denied) -> Exception:
    """The error moto's server answers with: an unknown key as moto refuses it; AccessDenied naming the action
    (XML for S3/IAM/STS, JSON `AccessDeniedException` for the JSON services, as AWS answers them)."""
    # moto loads only when the rehearsal starts (its server runs in this process)
    from moto.core.exceptions import InvalidClientTokenIdError, JsonRESTError

    if response.service_name == "s3":  # S3's own error shape (<Error><Code>…), as moto's S3 answers
        # moto loads only when the rehearsal starts
        from moto.s3.exceptions import S3ClientError, S3InvalidAccessKeyIdError

        return S3ClientError("AccessDenied", str(exc)) if exc.action else S3InvalidAccessKeyIdError()
    if not exc.action:
        return InvalidClientTokenIdError()
    if response.service_name in ("iam", "sts"):  # moto's names; Lambda is "awslambda"
        # moto loads only when the rehearsal starts
        from moto.core.exceptions import AccessDeniedError

        principal, _, rest = str(exc).removeprefix("User: ").partition(" is not authorized to perform: ")
        return AccessDeniedError(principal, rest)
    err = JsonRESTError("AccessDeniedException", str(exc))
    err.code = 403
    return err


def install(enforcer: Enforcer) -> Iterator[None]:
    """Replace moto's authorizer while the rehearsal runs (a generator: use with contextlib.contextmanager)."""
    # moto loads only when the rehearsal starts: its authorizer is replaced in this process only
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    original = ActionAuthenticatorMixin._authenticate_and_authorize_action
    before = settings.INITIAL_NO_AUTH_ACTION_COUNT

    def authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        try:
            enforcer.authorize(self.headers, needs_for(self, resource, enforcer.account))
        except Denied as exc:
            raise _moto_error(self, exc) from None

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize  # type: ignore[method-assign]
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    try:
        yield
    finally:
        ActionAuthenticatorMixin._authenticate_and_authorize_action = original  # type: ignore[method-assign]
        settings.INITIAL_NO_AUTH_ACTION_COUNT = before
