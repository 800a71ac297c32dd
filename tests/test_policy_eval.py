"""The rehearsal's policy evaluator follows IAM's evaluation order for one identity policy (IAM user guide,
reference_policies_evaluation-logic.html): explicit Deny, then Allow, else implicit deny."""

from __future__ import annotations

import pytest

from rftlab.backends.bedrock.policy_eval import UnsupportedPolicy, denial, evaluate

FN = "arn:aws:lambda:us-east-1:123456789012:function:rftlab-grader"
POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Deploy", "Effect": "Allow", "Action": ["lambda:Get*", "lambda:PublishVersion"], "Resource": [FN, f"{FN}:*"]},
    {"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::123456789012:role/x",
     "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}},
    {"Sid": "NoV1", "Effect": "Deny", "Action": "lambda:*", "Resource": f"{FN}:1"},
]}


@pytest.mark.parametrize(("action", "resource", "context", "allowed", "sid"), [
    ("lambda:GetFunction", FN, {}, True, "Deploy"),
    ("LAMBDA:getfunction", FN, {}, True, "Deploy"),            # actions are case-insensitive
    ("lambda:GetFunction", FN.upper(), {}, False, None),        # resources are not
    ("lambda:PublishVersion", f"{FN}:7", {}, True, "Deploy"),
    ("lambda:PublishVersion", f"{FN}:1", {}, False, "NoV1"),    # an explicit deny wins
    ("lambda:CreateFunction", FN, {}, False, None),             # implicit deny
    ("iam:PassRole", "arn:aws:iam::123456789012:role/x", {"iam:PassedToService": "lambda.amazonaws.com"}, True, "Pass"),
    ("iam:PassRole", "arn:aws:iam::123456789012:role/x", {"iam:PassedToService": "bedrock.amazonaws.com"}, False, None),
    ("iam:PassRole", "arn:aws:iam::123456789012:role/x", {}, False, None),  # a missing condition key fails
])
def test_evaluation_order_and_matching(action, resource, context, allowed, sid):
    decision = evaluate(POLICY, action, resource, context)
    assert (decision.allowed, decision.statement) == (allowed, sid)


def test_unsupported_elements_are_refused_not_ignored():
    with pytest.raises(UnsupportedPolicy):
        evaluate({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                                 "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01"}}}]}, "s3:GetObject", "x")


def test_denial_reads_like_aws_and_names_the_action():
    msg = denial("arn:aws:iam::1:user/u", "ecr:SetRepositoryPolicy", "arn:aws:ecr:us-east-1:1:repository/r")
    assert msg.startswith("User: arn:aws:iam::1:user/u is not authorized to perform: ecr:SetRepositoryPolicy on resource: ")
