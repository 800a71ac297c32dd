"""Single tokens (profile keys, learned-weight keys, words): payload test and detector check.

A token "carries a payload" when it holds a digit (any script: ０, ①) or an `@`: what phone
numbers, card numbers, e-mail addresses and ids are made of. The profile keeps such a token
only when enough distinct users wrote it (profile.min_users). Any token in which the detectors
find personal data is dropped outright, however many users wrote it.
"""

from __future__ import annotations

import re
import unicodedata

from rftlab.privacy.detect import Finding, find

_PAYLOAD = re.compile(r"[0-9@]")
MIN_DETECTABLE = 6  # the shortest token a detector can match (a@b.jp, pw:abc1, 10.0.0.1 is 8)


def has_payload(token: str) -> bool:
    """True when the token holds a digit (any script) or an @ sign."""
    if _PAYLOAD.search(token):
        return True
    return not token.isascii() and _PAYLOAD.search(unicodedata.normalize("NFKC", token)) is not None


def personal(token: str) -> list[Finding]:
    """Findings of the detectors in one token (cheap for short tokens: nothing to find)."""
    if len(token) < MIN_DETECTABLE:
        return []
    return find(token)
