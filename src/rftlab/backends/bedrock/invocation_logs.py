"""Model invocation logs as a Nova RFT job's training data: `trainingDataConfig.invocationLogsConfig`.

Shape (botocore's bedrock service model, TrainingDataConfig -> InvocationLogsConfig):
`{"invocationLogSource": {"s3Uri": ...}, "requestMetadataFilters": {...}, "usePromptResponse": bool}`,
`invocationLogSource` required and a union (only `s3Uri`), `requestMetadataFilters` a union of
`equals` / `notEquals` (a map of exactly one key) or `andAll` / `orAll` (1-16 of those). With it,
`trainingDataConfig.s3Uri` is left out. The user guide: "Option 2: Use invocation logs for data
preparation" (https://docs.aws.amazon.com/bedrock/latest/userguide/rft-option-2.html); the service
role needs S3 read access to the log bucket ("Invocation log access",
https://docs.aws.amazon.com/bedrock/latest/userguide/rft-access-security.html), see iam.py.
Pure apart from botocore's model: validated before anything is uploaded or deployed.
"""

from __future__ import annotations

import json
from typing import Any

from rftlab.backends.bedrock.shapes import problems

SHAPE = "InvocationLogsConfig"


def build(s3_uri: str, filters: dict[str, Any] | None = None, use_prompt_response: bool = False) -> dict[str, Any]:
    """The invocationLogsConfig member as CreateModelCustomizationJob takes it."""
    cfg: dict[str, Any] = {"invocationLogSource": {"s3Uri": s3_uri}, "usePromptResponse": bool(use_prompt_response)}
    if filters:
        cfg["requestMetadataFilters"] = filters
    return cfg


def config_problems(s3_uri: str, filters: dict[str, Any] | None, use_prompt_response: bool) -> list[str]:
    """Every way the config breaks botocore's InvocationLogsConfig shape (required, unions, maps, patterns)."""
    # botocore loads with the first AWS call: offline commands never pay for it
    import botocore.session
    from botocore.validate import ParamValidator

    shape = botocore.session.get_session().get_service_model("bedrock").shape_for(SHAPE)
    cfg = build(s3_uri, filters, use_prompt_response)
    report = ParamValidator().validate(cfg, shape)
    found = [line.strip() for line in report.generate_report().splitlines()[1:] if line.strip()] \
        if report.has_errors() else []
    return found + problems(shape, cfg, "") + _strict(shape, cfg, "")


def _strict(shape: Any, value: Any, path: str) -> list[str]:
    """What botocore's client-side validation leaves to the server here: unknown keys, a union with
    other than exactly one member set, map sizes (RequestMetadataMap holds exactly one entry), key patterns."""

    out: list[str] = []
    meta, where = shape.metadata, path or SHAPE
    if shape.type_name == "structure" and isinstance(value, dict):
        unknown = sorted(set(value) - set(shape.members))
        if unknown:
            out.append(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(shape.members)})")
        if meta.get("union") and len([k for k in value if k in shape.members]) != 1:
            out.append(f"{where}: set exactly one of {', '.join(shape.members)}")
        for name, member in shape.members.items():
            if name in value:
                out += _strict(member, value[name], f"{path}.{name}" if path else name)
    elif shape.type_name == "list" and isinstance(value, list):
        if len(value) < meta.get("min", 0):
            out.append(f"{where}: {len(value)} items, at least {meta['min']} needed")
        for i, item in enumerate(value):
            out += _strict(shape.member, item, f"{path}[{i}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        lo, hi = meta.get("min", 0), meta.get("max")
        if len(value) < lo or (hi is not None and len(value) > hi):
            out.append(f"{where}: {len(value)} entries, botocore allows {lo}..{hi if hi is not None else 'any'}")
        out += [p.replace(f"{where}.key", f"{where} key") for k in value
                for p in problems(shape.key, k, f"{where}.key") if isinstance(k, str)]
    return out


def from_params(bedrock: Any) -> dict[str, Any] | None:
    """The config from `rft.bedrock.invocation_logs` (None when s3_uri is not set)."""
    logs = getattr(bedrock, "invocation_logs", None)
    if logs is None or not logs.s3_uri:
        return None
    return build(logs.s3_uri, logs.request_metadata_filters, logs.use_prompt_response)


def lineage(cfg: dict[str, Any]) -> dict[str, str]:
    """MLflow params naming where the training data came from (log location, filters, pairs used)."""
    return {"training_data": "invocation-logs",
            "invocation_logs.s3_uri": cfg["invocationLogSource"]["s3Uri"],
            "invocation_logs.filters": json.dumps(cfg.get("requestMetadataFilters") or {}, sort_keys=True),
            "invocation_logs.use_prompt_response": str(bool(cfg.get("usePromptResponse"))).lower()}


def bucket_and_prefix(s3_uri: str) -> tuple[str, str]:
    """`s3://bucket/a/b/` -> (`bucket`, `a/b`)."""
    bucket, _, key = s3_uri.removeprefix("s3://").partition("/")
    return bucket, key.strip("/")
