"""Replace what detect.find finds with one placeholder per kind, counting what was replaced.

Used on every message at ingest (rftlab.slack.ingest) and as the prompt builder's last check
(rftlab.prompts). Placeholders are never matched again, so scrubbing is idempotent. Contextual
kinds keep their words: `パスワードは hunter22` becomes `パスワードは <PASSWORD>`.
"""

from __future__ import annotations

from collections import Counter

from rftlab.privacy.detect import KINDS, find

PLACEHOLDERS: dict[str, str] = {kind: f"<{kind.upper()}>" for kind in KINDS}
EMAIL, PHONE, SECRET = PLACEHOLDERS["email"], PLACEHOLDERS["phone"], PLACEHOLDERS["secret"]

_MAX_PASSES = 4

__all__ = ["EMAIL", "KINDS", "PHONE", "PLACEHOLDERS", "SECRET", "scrub"]


def _replace(text: str, counts: Counter) -> str:
    findings = find(text)
    if not findings:
        return text
    parts: list[str] = []
    pos = 0
    for f in findings:
        parts.append(text[pos:f.start])
        parts.append(PLACEHOLDERS[f.kind])
        counts[f.kind] += 1
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts)


def scrub(text: str) -> tuple[str, Counter]:
    """`text` with personal data and secrets replaced by placeholders; counts per kind.

    A placeholder can give a neighbour the edge it lacked (`taro@example.com<PHONE>`), so the
    text is scrubbed again until nothing more is found (at most a few passes; idempotent).
    """
    counts: Counter = Counter()
    for _ in range(_MAX_PASSES):
        new = _replace(text, counts)
        if new == text:
            break
        text = new
    return text, counts
