"""What each Bedrock call the stand-in serves needs from the caller's policy: action, resource ARN, conditions.

Actions are the operations' names (Service Authorization Reference, "Actions, resources, and condition
keys for Amazon Bedrock", list_amazonbedrock.html); Converse and InvokeModel need bedrock:InvokeModel
(API reference, API_runtime_Converse.html). Resources:
- a job, custom model or deployment named in the request: its ARN (a name becomes the ARN of that name);
- CreateModelCustomizationJob: the base model (`foundation-model/<id>`, Region-scoped, no account), the job
  and the custom model it creates; it passes `roleArn` to Bedrock (iam:PassRole with iam:PassedToService
  bedrock.amazonaws.com: user guide, "Create a service role for model customization"); CreateCustomModelDeployment:
  the custom model and the deployment. Tags sent on create are authorized as bedrock:TagResource on the new
  resource (see rftlab.backends.bedrock.caller_policy).
- Converse on a cross-Region inference profile: the profile in the source Region, then the foundation model in
  the destination Region Bedrock routes to (user guide, geographic-cross-region-inference.html: both are
  checked). The stand-in routes `us.` profiles to us-west-2 when called from elsewhere (else us-east-2) and
  `global.` profiles to the Region-less foundation-model ARN (global-cross-region-inference.html), so a policy
  granting the model only in the source Region fails here as it would on AWS.
"""

from __future__ import annotations

from typing import Any

from rftlab.backends.bedrock.rehearsal.enforce import Need

BEDROCK = "bedrock.amazonaws.com"


def _arn(region: str, account: str, kind: str, ident: str | None) -> str:
    if ident and ident.startswith("arn:"):
        return ident
    return f"arn:aws:bedrock:{region}:{account}:{kind}/{ident or '*'}"


def _profile_needs(model: str, region: str, account: str) -> list[Need]:
    geo, _, foundation = model.partition(".")
    profile = f"arn:aws:bedrock:{region}:{account}:inference-profile/{model}"
    if geo == "global":
        destination = f"arn:aws:bedrock:::foundation-model/{foundation}"
    else:
        dest_region = "us-west-2" if region != "us-west-2" else "us-east-2"
        destination = f"arn:aws:bedrock:{dest_region}::foundation-model/{foundation}"
    return [Need("bedrock:InvokeModel", profile), Need("bedrock:InvokeModel", destination)]


def converse_needs(model_id: str, region: str, account: str, profiles: tuple[str, ...]) -> list[Need]:
    bare = model_id.rsplit("/", 1)[-1] if ":inference-profile/" in model_id else model_id
    if bare in profiles:
        return _profile_needs(bare, region, account)
    if model_id.startswith("arn:"):
        return [Need("bedrock:InvokeModel", model_id)]
    return [Need("bedrock:InvokeModel", f"arn:aws:bedrock:{region}::foundation-model/{model_id}")]


def bedrock_needs(operation: str, params: dict[str, Any], region: str, account: str,
                  profiles: tuple[str, ...] = ()) -> list[Need]:
    """One branch per operation the stand-in serves, each reading the request's own identifiers."""
    action = f"bedrock:{operation}"
    if operation == "Converse":
        return converse_needs(str(params.get("modelId", "")), region, account, profiles)
    if operation in ("ListModelCustomizationJobs", "ListCustomModelDeployments"):
        return [Need(action, "*")]
    if operation == "CreateModelCustomizationJob":
        job = _arn(region, account, "model-customization-job", params.get("jobName"))
        model = _arn(region, account, "custom-model", params.get("customModelName"))
        base = params.get("baseModelIdentifier", "")
        base_arn = base if base.startswith("arn:") else f"arn:aws:bedrock:{region}::foundation-model/{base}"
        needs = [Need(action, job), Need(action, model), Need(action, base_arn),
                 Need("iam:PassRole", str(params.get("roleArn", "")), {"iam:PassedToService": BEDROCK})]
        if params.get("jobTags"):
            needs.append(Need("bedrock:TagResource", job))
        if params.get("customModelTags"):
            needs.append(Need("bedrock:TagResource", model))
        return needs
    if operation in ("GetModelCustomizationJob", "StopModelCustomizationJob"):
        return [Need(action, _arn(region, account, "model-customization-job", params.get("jobIdentifier")))]
    if operation == "ListTagsForResource":
        return [Need(action, str(params.get("resourceARN", "*")))]
    if operation == "GetCustomModel":
        return [Need(action, _arn(region, account, "custom-model", params.get("modelIdentifier")))]
    if operation == "CreateCustomModelDeployment":
        deployment = _arn(region, account, "custom-model-deployment", params.get("modelDeploymentName"))
        needs = [Need(action, deployment), Need(action, str(params.get("modelArn", "")))]
        if params.get("tags"):
            needs.append(Need("bedrock:TagResource", deployment))
        return needs
    if operation in ("GetCustomModelDeployment", "UpdateCustomModelDeployment"):
        needs = [Need(action, _arn(region, account, "custom-model-deployment",
                                   params.get("customModelDeploymentIdentifier")))]
        if operation == "UpdateCustomModelDeployment" and params.get("modelArn"):
            needs.append(Need(action, str(params["modelArn"])))
        return needs
    return [Need(action, "*")]
