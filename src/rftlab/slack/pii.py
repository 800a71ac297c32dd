"""Scrub personal data and secrets from message text, counting what was replaced.

Order matters: secrets first (a token may contain `@` or digits that look like a
phone number), then URL credentials and secret query values, then e-mail, then
phone numbers. Python's `\\d` also matches full-width digits (０９０-…), which
Japanese users type. Pure functions; no I/O.
"""

from __future__ import annotations

import re
from collections import Counter

EMAIL, PHONE, SECRET = "<EMAIL>", "<PHONE>", "<SECRET>"
KINDS = ("email", "phone", "secret")

_SECRET_PATTERNS = [
    r"xox[abposrte]-[A-Za-z0-9-]{10,}",  # Slack tokens
    r"xapp-\d-[A-Za-z0-9-]{10,}",
    r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}",  # AWS access key ids
    r"gh[pousr]_[A-Za-z0-9]{30,}",  # GitHub tokens
    r"github_pat_[A-Za-z0-9_]{30,}",
    r"sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}",  # OpenAI / Anthropic style keys
    r"AIza[0-9A-Za-z_-]{35}",  # Google API keys
    r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",  # JWTs
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
]
SECRET_RE = re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(_SECRET_PATTERNS) + r")", re.DOTALL)
# `aws_secret_access_key = ...`, `password: ...`, `api_key=...` written in prose or config
ASSIGNED_RE = re.compile(
    r"(?i)\b((?:aws_)?(?:secret(?:_access)?_key|api[_-]?key|access[_-]?token|auth[_-]?token|password|passwd|client_secret)"
    r"\s*[:=]\s*)([\"']?)[^\s\"'<>]{6,}\2"
)
QUERY_SECRET_RE = re.compile(
    r"(?i)([?&;](?:token|access_token|id_token|refresh_token|api_key|apikey|key|sig|signature|secret|password|auth|code"
    r"|x-amz-signature|x-amz-credential|x-amz-security-token|awsaccesskeyid)=)[^&#\s<>\"']+"
)
URL_USERINFO_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@<>]+:[^/\s@<>]+@")
EMAIL_RE = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_H = r"[-‐‑–—−－ー ]"  # hyphens people actually type between digit groups, incl. full-width
PHONE_RE = re.compile(
    r"(?<![\d\w])(?:"
    r"[+＋]\d{1,3}" + _H + r"?\(?\d{1,4}\)?" + _H + r"?\d{1,4}" + _H + r"?\d{3,4}"  # +81-90-1234-5678
    r"|\([0０]\d{1,4}\)" + _H + r"?\d{1,4}" + _H + r"\d{4}"  # (03) 1234-5678
    r"|[0０]\d{1,4}" + _H + r"\d{1,4}" + _H + r"\d{3,4}"  # 090-1234-5678, 03-1234-5678, 0120-123-456
    r"|[0０][5789５７８９][0０]\d{8}"  # 09012345678
    r"|\(?\d{3}\)?[-. ]\d{3}[-. ]\d{4}"  # (555) 123-4567, 555.123.4567
    r")(?!\d)"
)

_DIGIT = re.compile(r"\d")


def scrub(text: str) -> tuple[str, Counter]:
    """Replace e-mails, phone numbers and secrets with placeholders; return counts per kind."""
    counts: Counter = Counter()

    def sub(pattern: re.Pattern, repl: str, kind: str, s: str) -> str:
        new, n = pattern.subn(repl, s)
        if n:
            counts[kind] += n
        return new

    # cheap guards first: most messages hold no '=', '@' or digit at all
    text = sub(SECRET_RE, SECRET, "secret", text)
    if "=" in text or ":" in text:
        text = sub(ASSIGNED_RE, r"\1" + SECRET, "secret", text)
        text = sub(QUERY_SECRET_RE, r"\1" + SECRET, "secret", text)
    if "@" in text:
        text = sub(URL_USERINFO_RE, r"\1" + SECRET + "@", "secret", text)
        text = sub(EMAIL_RE, EMAIL, "email", text)
    if _DIGIT.search(text):
        text = sub(PHONE_RE, PHONE, "phone", text)
    return text, counts
