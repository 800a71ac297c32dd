"""A small evaluator of IAM identity policies: does this document allow `action` on `resource`?

Used by the offline rehearsal to act as IAM for the services it stands in for. It follows the IAM
user guide's evaluation logic for a single identity-based policy ("Policy evaluation logic",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html): an explicit
Deny wins, otherwise an Allow is needed, otherwise the request is implicitly denied. Within a statement
(IAM JSON policy elements reference, reference_policies_elements_*.html): Action / NotAction match
case-insensitively with `*` and `?` wildcards; Resource matches case-sensitively with the same
wildcards; every Condition operator must hold, and within one operator every key; a key the request
does not carry makes its condition false. Operators supported: StringEquals, StringLike,
StringNotEquals, ArnEquals, ArnLike (the ones rftlab's documents use); any other operator is refused
loudly rather than ignored.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

_OPERATORS = {"StringEquals", "StringLike", "StringNotEquals", "ArnEquals", "ArnLike"}


class UnsupportedPolicy(ValueError):
    """The document uses a policy element this evaluator does not implement."""


def _list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _wild(pattern: str, value: str, *, case: bool) -> bool:
    # fnmatch treats [] as a character class; IAM does not: escape them
    pattern = pattern.replace("[", "[[]")
    return fnmatch.fnmatchcase(value, pattern) if case else fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _condition_holds(cond: dict[str, Any], context: dict[str, str]) -> bool:
    for op, pairs in cond.items():
        if op not in _OPERATORS:
            raise UnsupportedPolicy(f"condition operator {op} is not supported by the rehearsal's evaluator")
        for key, wanted in pairs.items():
            value = context.get(key)
            wanted = _list(wanted)
            if value is None:
                return False
            if op in ("StringEquals", "ArnEquals") and value not in wanted:
                return False
            if op == "StringNotEquals" and value in wanted:
                return False
            if op in ("StringLike", "ArnLike") and not any(_wild(w, value, case=True) for w in wanted):
                return False
    return True


def _applies(stmt: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> bool:
    if "NotResource" in stmt or "Principal" in stmt or "NotPrincipal" in stmt:
        raise UnsupportedPolicy(f"statement {stmt.get('Sid', '?')}: NotResource/Principal are not identity-policy elements here")
    if "NotAction" in stmt:
        if any(_wild(p, action, case=False) for p in _list(stmt["NotAction"])):
            return False
    elif not any(_wild(p, action, case=False) for p in _list(stmt.get("Action"))):
        return False
    if not any(_wild(p, resource, case=True) for p in _list(stmt.get("Resource"))):
        return False
    return _condition_holds(stmt.get("Condition") or {}, context)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    statement: str | None  # the Sid of the deciding statement (None: implicit deny)


def evaluate(policy: dict[str, Any], action: str, resource: str, context: dict[str, str] | None = None) -> Decision:
    """Explicit Deny > Allow > implicit deny, for one identity policy."""
    ctx = context or {}
    stmts = policy.get("Statement") or []
    stmts = [stmts] if isinstance(stmts, dict) else stmts
    allow = None
    for i, stmt in enumerate(stmts):
        if _applies(stmt, action, resource, ctx):
            sid = stmt.get("Sid") or f"#{i}"
            if stmt.get("Effect") == "Deny":
                return Decision(False, sid)
            allow = allow or sid
    return Decision(allow is not None, allow)


def denial(principal: str, action: str, resource: str, explicit: bool = False) -> str:
    """AWS's wording of an access-denied message (the form rftlab.aws.aws_errors reads the action from)."""
    why = "with an explicit deny in an identity-based policy" if explicit else \
        f"because no identity-based policy allows the {action} action"
    return f"User: {principal} is not authorized to perform: {action} on resource: {resource} {why}"
