"""Check a request against botocore's service model *fully* before it is sent.

botocore's own parameter validation checks types, required members and minimums, but not
maximums, string patterns or enums. Bedrock would reject those server-side after a round
trip (or, for jobName/customModelName, after the grader is already deployed); this finds
them first and names the field, the value and the rule.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from rftlab.errors import InputError


@lru_cache(maxsize=8)
def _model(service: str) -> Any:
    # botocore loads with the first AWS call: offline commands never pay for it
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error:
        return None


def problems(shape: Any, value: Any, path: str) -> list[str]:
    """Every max/pattern/enum violation of `value` under `shape` (botocore checks the rest)."""
    out: list[str] = []
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                out += problems(member, value[name], f"{path}.{name}" if path else name)
    elif kind == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{path}: {len(value)} items, at most {meta['max']} allowed")
        for i, item in enumerate(value):
            out += problems(shape.member, item, f"{path}[{i}]")
    elif kind == "map" and isinstance(value, dict):
        for k, v in value.items():
            out += problems(shape.value, v, f"{path}.{k}")
    elif kind == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{path}: {len(value)} characters, at most {meta['max']} allowed")
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            out.append(f"{path}: {value!r} is not one of {', '.join(enum)}")
        rx = _regex(meta["pattern"]) if "pattern" in meta else None
        if rx is not None and not rx.fullmatch(value):
            out.append(f"{path}: {value!r} does not match the pattern {meta['pattern']}")
    elif kind in {"integer", "long", "float", "double"} and isinstance(value, int | float):
        if "max" in meta and value > meta["max"]:
            out.append(f"{path}: {value} is above the maximum {meta['max']}")
        if "min" in meta and value < meta["min"]:
            out.append(f"{path}: {value} is below the minimum {meta['min']}")
    return out


def check_request(service: str, operation: str, params: dict[str, Any]) -> None:
    """Raise InputError naming every field of `params` that the service model forbids: botocore's
    own checks (required members, types, minimums) and the ones it leaves to the server."""
    # botocore loads with the first AWS call: offline commands never pay for it
    from botocore.validate import ParamValidator

    op = _model(service).operation_model(operation)
    found: list[str] = []
    if op.input_shape is not None:
        report = ParamValidator().validate(params, op.input_shape)
        if report.has_errors():
            found += [line.strip() for line in report.generate_report().splitlines()[1:] if line.strip()]
        found += problems(op.input_shape, params, "")
    if found:
        raise InputError(f"{service} {operation} request is invalid: " + "; ".join(found[:6]))


def operation_name(client: Any, method: str) -> str:
    """snake_case client method -> API operation name (create_model_customization_job -> CreateModel...)."""
    return client.meta.method_to_api_mapping[method]
