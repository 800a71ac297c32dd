"""botocore's rest-json wire protocol, read from its own service model: routes, parsing, validation, output.

Everything here comes from `botocore.session.get_session().get_service_model(service)`: each
operation's `http.method` and `http.requestUri`, where its input members live (`location`
uri / querystring / header, else the JSON body), the output shape (timestamps in the shape's
`timestampFormat`, iso8601 for Bedrock) and the error shapes (HTTP status from
`error.httpStatusCode`). Errors carry the code in the `x-amzn-ErrorType` header, which
botocore's RestJSONParser reads (`code.split(':')[0]`), and the text in the body's `message`.

Validation messages use AWS's server-side wording, e.g. Bedrock's
`1 validation error detected: Value '' at 'toolConfig.tools.1.member.toolSpec.name' failed to satisfy
constraint: Member must have length greater than or equal to 1` (quoted in
https://github.com/BerriAI/litellm/issues/19384): list items are `<path>.<1-based index>.member`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.parse
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# What Bedrock sends in x-amzn-ErrorType (seen in https://github.com/fumito-ito/AnthropicSwiftSDK/issues/19).
ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/"


class ServiceError(Exception):
    """An error answer: `code` is an error shape name of the service (ValidationException, ...)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@lru_cache(maxsize=4)
def service_model(service: str) -> Any:
    # botocore loads with the first AWS call: offline commands never pay for it
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@dataclass(frozen=True)
class Route:
    operation: str
    method: str
    regex: re.Pattern[str]
    labels: tuple[str, ...]


def _compile(uri: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    path = uri.split("?", 1)[0]
    labels: list[str] = []
    out = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            greedy = name.endswith("+")
            labels.append(name.rstrip("+"))
            out += "(.+)" if greedy else "([^/]+)"
        else:
            out += re.escape(part)
    return re.compile(f"^{out}$"), tuple(labels)


def routes(service: str, operations: tuple[str, ...]) -> list[Route]:
    model = service_model(service)
    out = []
    for name in operations:
        http = model.operation_model(name).http
        regex, labels = _compile(http["requestUri"])
        out.append(Route(name, http["method"], regex, labels))
    return out


def match(table: list[Route], method: str, raw_path: str) -> tuple[str, dict[str, str]] | None:
    """(operation, uri labels decoded) for a request line, or None."""
    for r in table:
        if r.method != method:
            continue
        m = r.regex.match(raw_path)
        if m:
            return r.operation, {k: urllib.parse.unquote(v) for k, v in zip(r.labels, m.groups(), strict=True)}
    return None


# ---------------------------------------------------------------------------- input
def _scalar(shape: Any, text: str, name: str) -> Any:
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
        if kind == "boolean":
            return text.lower() == "true"
        if kind == "timestamp":
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ServiceError("ValidationException", f"Value '{text}' at '{name}' could not be parsed as {kind}") from None
    return text


def parse_input(service: str, operation: str, labels: dict[str, str], query: str, body: bytes) -> dict[str, Any]:
    """The operation's input parameters from the URI labels, the query string and the JSON body."""
    shape = service_model(service).operation_model(operation).input_shape
    if shape is None:
        return {}
    params: dict[str, Any] = {}
    if body.strip():
        try:
            doc = json.loads(body)
        except ValueError:
            raise ServiceError("SerializationException", "The request body is not valid JSON") from None
        if not isinstance(doc, dict):
            raise ServiceError("SerializationException", "The request body must be a JSON object")
        params.update(doc)
    qs = urllib.parse.parse_qs(query, keep_blank_values=True)
    for name, member in shape.members.items():
        where, wire = member.serialization.get("location"), member.serialization.get("name", name)
        if where == "uri" and wire in labels:
            params[name] = _scalar(member, labels[wire], name)
        elif where == "querystring" and wire in qs:
            values = qs[wire]
            params[name] = ([_scalar(member.member, v, name) for v in values] if member.type_name == "list"
                            else _scalar(member, values[-1], name))
    return params


# ---------------------------------------------------------------------------- validation
def _show(value: Any) -> str:
    return f"Value '{value}' at" if isinstance(value, str | int | float) and not isinstance(value, bool) else "Value at"


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "structure" or kind == "map":
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("integer", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("float", "double"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True  # timestamps (already parsed), blobs, documents


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error:
        return None


def problems(shape: Any, value: Any, path: str = "") -> list[str]:
    """Every constraint of `shape` that `value` breaks, in AWS's wording."""
    meta, kind = shape.metadata, shape.type_name
    at = lambda rule: f"{_show(value)} '{path}' failed to satisfy constraint: Member must {rule}"  # noqa: E731
    if meta.get("document"):
        return []
    if not _type_ok(kind, value):
        return [at(f"be of type {kind}")]
    out: list[str] = []
    if kind in ("string", "list", "map"):
        size = len(value)
        if "min" in meta and size < meta["min"]:
            out.append(at(f"have length greater than or equal to {meta['min']}"))
        if "max" in meta and size > meta["max"]:
            out.append(at(f"have length less than or equal to {meta['max']}"))
    if kind == "string":
        enum = getattr(shape, "enum", None)
        if enum and value not in enum:
            out.append(at(f"satisfy enum value set: [{', '.join(enum)}]"))
        rx = _regex(meta["pattern"]) if "pattern" in meta else None
        if rx is not None and not rx.fullmatch(value):
            out.append(at(f"satisfy regular expression pattern: {meta['pattern']}"))
    elif kind in ("integer", "long", "float", "double"):
        if "min" in meta and value < meta["min"]:
            out.append(at(f"have value greater than or equal to {meta['min']}"))
        if "max" in meta and value > meta["max"]:
            out.append(at(f"have value less than or equal to {meta['max']}"))
    elif kind == "structure":
        for name in meta.get("required", []):
            if value.get(name) is None:
                out.append(f"Value null at '{f'{path}.{name}' if path else name}' failed to satisfy constraint: "
                           "Member must not be null")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                out += problems(member, value[name], f"{path}.{name}" if path else name)
    elif kind == "list":
        for i, item in enumerate(value, start=1):
            out += problems(shape.member, item, f"{path}.{i}.member")
    elif kind == "map":
        for k, v in value.items():
            out += problems(shape.value, v, f"{path}.{k}")
    return out


def validation_message(found: list[str]) -> str:
    head = "1 validation error detected" if len(found) == 1 else f"{len(found)} validation errors detected"
    return f"{head}: " + "; ".join(found)


def check_input(service: str, operation: str, params: dict[str, Any]) -> None:
    """Raise ValidationException (AWS wording) when `params` break the operation's input shape."""
    shape = service_model(service).operation_model(operation).input_shape
    found = problems(shape, params) if shape is not None else []
    if found:
        raise ServiceError("ValidationException", validation_message(found))


# ---------------------------------------------------------------------------- output
def _timestamp(value: dt.datetime, fmt: str) -> Any:
    value = value.astimezone(dt.timezone.utc)
    if fmt == "unixTimestamp":
        return value.timestamp()
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def serialize(shape: Any, value: Any) -> Any:
    """A response value as JSON, timestamps in the member's `timestampFormat` (rest-json default: epoch)."""
    kind = shape.type_name
    if value is None:
        return None
    if kind == "structure":
        out = {}
        for name, member in shape.members.items():
            if value.get(name) is not None:
                out[member.serialization.get("name", name)] = serialize(member, value[name])
        return out
    if kind == "list":
        return [serialize(shape.member, v) for v in value]
    if kind == "map":
        return {k: serialize(shape.value, v) for k, v in value.items()}
    if kind == "timestamp":
        fmt = shape.serialization.get("timestampFormat") or shape.metadata.get("timestampFormat") or "unixTimestamp"
        return _timestamp(value, fmt)
    return value


def output(service: str, operation: str, result: dict[str, Any]) -> tuple[int, bytes]:
    """(status, body) of a successful answer; a result breaking the output shape is a stand-in bug."""
    op = service_model(service).operation_model(operation)
    shape = op.output_shape
    if shape is None:
        return int(op.http.get("responseCode", 200)), b"{}"
    found = problems(shape, result)
    if found:
        raise ServiceError("InternalServerException", f"stand-in answer breaks {shape.name}: {found[0]}")
    body = json.dumps(serialize(shape, result), ensure_ascii=False).encode("utf-8")
    return int(op.http.get("responseCode", 200)), body


def error(service: str, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of an error answer, status from the error shape (400 when unmodelled)."""
    model = service_model(service)
    status = 400
    if code in model.shape_names:
        status = int(model.shape_for(code).metadata.get("error", {}).get("httpStatusCode", 400))
    headers = {"x-amzn-ErrorType": f"{code}:{ERROR_NAMESPACE}"}
    return status, headers, json.dumps({"message": message}, ensure_ascii=False).encode("utf-8")
