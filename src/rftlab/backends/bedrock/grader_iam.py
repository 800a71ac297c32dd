"""The grader Lambda's execution role document (`rftlab bedrock policies`: grader-lambda-policy.json)."""

from __future__ import annotations

import re
from typing import Any

VERSION = "2012-10-17"
# the geography prefix of a cross-Region inference profile id (us.amazon.nova-2-lite-v1:0 -> amazon.nova-2-lite-v1:0)
_GEO = re.compile(r"^(us|eu|apac|jp|au|ca|us-gov|global)\.")
def grader_execution_policy(region: str, account: str, function: str, relevance: Any = None,
                            also_regions: tuple[str, ...] = ()) -> dict[str, Any]:
    """The grader Lambda's execution role: its own CloudWatch Logs, and `bedrock:InvokeModel` on the
    relevance judge when the grader calls one (params relevance.judge: bedrock).

    Converse needs bedrock:InvokeModel (API reference, API_runtime_Converse.html: "This operation
    requires permission for the bedrock:InvokeModel action"); AWS's RLAIF sample gives its reward
    Lambda that permission (aws-samples/amazon-bedrock-samples, custom-models/
    bedrock-reinforcement-fine-tuning/models/nova/nova_pandalm_rft.ipynb: "The Lambda function needs
    `bedrock:InvokeModel` permission to call the LLM judge"). A cross-Region inference profile such as
    `us.amazon.nova-2-lite-v1:0` needs the profile's ARN and the foundation model's in every Region
    the profile routes to (user guide, inference-profiles-prereq.html), hence `foundation-model/<id>`
    in any Region. Logs: the basic execution permissions (Lambda developer guide, lambda-intro-execution-role.html),
    for the function in `region` and in `also_regions` (the open-weight backend publishes the same function
    in its own Region; a function's log group lives in the function's Region).
    """
    groups = [f"arn:aws:logs:{r}:{account}:log-group:/aws/lambda/{function}"
              for r in dict.fromkeys((region, *also_regions))]
    stmts: list[dict[str, Any]] = [
        {"Sid": "GraderLogs", "Effect": "Allow", "Action": ["logs:CreateLogGroup"], "Resource": groups},
        {"Sid": "GraderLogStreams", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [f"{g}:*" for g in groups]},
    ]
    if relevance is not None and relevance.enabled and relevance.judge == "bedrock":
        model = relevance.model_id
        foundation = _GEO.sub("", model)
        resources = [f"arn:aws:bedrock:*::foundation-model/{foundation}"]
        if foundation != model:  # an inference profile id (us.…, global.…)
            resources.insert(0, f"arn:aws:bedrock:{relevance.region}:{account}:inference-profile/{model}")
        stmts.append({"Sid": "RelevanceJudge", "Effect": "Allow", "Action": ["bedrock:InvokeModel"],
                      "Resource": resources})
    return {"Version": VERSION, "Statement": stmts}
