"""Bedrock RFT hyperparameter ranges, read from botocore's service model (never copied)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def bedrock_ranges() -> dict[str, dict[str, Any]]:
    """{name: {"type", "min"?, "max"?, "enum"?}} for RFTHyperParameters."""
    # botocore loads with the first AWS call: offline commands never pay for it
    import botocore.session

    model = botocore.session.get_session().get_service_model("bedrock")
    shape = model.shape_for("RFTHyperParameters")
    out: dict[str, dict[str, Any]] = {}
    for name, member in shape.members.items():
        spec: dict[str, Any] = {"type": member.type_name}
        for key in ("min", "max"):
            if key in member.metadata:
                spec[key] = member.metadata[key]
        if getattr(member, "enum", None):
            spec["enum"] = list(member.enum)
        out[name] = spec
    return out


def range_problem(name: str, value: Any) -> str | None:
    """Why `value` is not allowed for hyperparameter `name` (with the allowed range), or None."""
    ranges = bedrock_ranges()
    spec = ranges.get(name)
    if spec is None:
        return f"not a Bedrock RFT hyperparameter (known: {', '.join(sorted(ranges))})"
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if spec["type"] in {"integer", "float"} and not numeric:
        return None  # a wrong type is reported by the config's type check
    lo, hi = spec.get("min"), spec.get("max")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        return f"{value} is outside the allowed range {lo}..{hi} (botocore bedrock model)"
    if "enum" in spec and value not in spec["enum"]:
        return f"{value!r} is not one of {', '.join(spec['enum'])}"
    if spec["type"] == "integer" and lo is None and numeric and value < 1:
        return f"{value} must be a positive integer"
    return None


def check_ranges(values: dict[str, Any]) -> None:
    """Raise ValueError naming every out-of-range hyperparameter and its allowed range."""
    problems = [f"{k}: {p}" for k, v in values.items() if v is not None and (p := range_problem(k, v))]
    if problems:
        raise ValueError("; ".join(problems))
