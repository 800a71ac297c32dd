"""Redact secrets from what a run sends to MLflow: the git diff artifact, params, dicts, texts.

Run artifacts are configuration and code, not chat: only the secret kinds are replaced
(credentials in URLs, `password: …`, `api_key=…`, `?token=…`, tokens and keys by their shape),
with "***", and a value whose own key names a secret (`…password`, `…secret`, `…token`,
`…api_key`, `…credentials`) is replaced whole. Applied inside rftlab.tracking, so nothing a
stage logs can bypass it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from rftlab.privacy.detect import SECRET_KINDS, find

MASK = "***"
SECRET_KEY = re.compile(
    r"(?i)(?:^|[._-])(?:password|passwd|pass|pwd|passphrase|secret|secret[_-]?access[_-]?key|token"
    r"|access[_-]?token|refresh[_-]?token|api[_-]?key|apikey|private[_-]?key|credentials?|auth)$"
)


def redact_text(text: str) -> str:
    """`text` with every secret-kind finding replaced by ***."""
    if not text:
        return text
    found = find(text, SECRET_KINDS)
    if not found:
        return text
    parts, pos = [], 0
    for f in found:
        parts.append(text[pos:f.start])
        parts.append(MASK)
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts)


def secret_key(key: str) -> bool:
    """True when a (dotted) key's last part names a secret: db.password, api_key, auth_token."""
    return SECRET_KEY.search(str(key).rsplit(".", 1)[-1]) is not None


def redact_value(key: str, value: Any) -> Any:
    if isinstance(value, str):
        return MASK if value and secret_key(key) else redact_text(value)
    return value


def redact_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """A flat params mapping with secret values masked (keys kept)."""
    return {k: redact_value(k, v) for k, v in params.items()}


def redact_obj(obj: Any, key: str = "") -> Any:
    """A JSON-like object with secret values masked, recursively (a new object; the input is untouched)."""
    if isinstance(obj, Mapping):
        return {k: redact_obj(v, str(k)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_obj(v, key) for v in obj]
    return redact_value(key, obj)
