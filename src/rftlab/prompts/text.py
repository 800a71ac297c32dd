"""Text helpers shared by build and validate: token estimate, normalisation, PII patterns.

Token estimate (no tokenizer is available offline, and Bedrock's is not public):
each CJK character (kana, kanji, Hangul, CJK punctuation, full-width forms) counts as one
token. The remaining text is split at whitespace into runs; each run counts the larger of
4/3 of a token (a word: the usual 0.75 words per token of English) and one token per 4 UTF-8
bytes (byte-level BPE averages about 4 bytes of English text per token, so a URL, a hash or
a 100,000-character line without spaces is about 25,000 tokens, not one word). The total is
rounded up. It overestimates slightly for Japanese on most BPE vocabularies, which is the
safe side for a `maxPromptLength` check.
"""

from __future__ import annotations

import math
import re
import unicodedata

from rftlab.privacy.scrub import scrub

_CJK = re.compile(
    "[\u3000-\u303f\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]"
)
WORD_TOKENS = 4 / 3   # one word: 0.75 words per token
BYTES_PER_TOKEN = 4   # a long run without spaces
_SPACE = re.compile(r"\s+")

# Raw personal data the ingest scrubber should have replaced with a marker.


def estimate_tokens(text: str) -> int:
    """Estimated tokens: 1 per CJK character + per other whitespace-separated run, the larger
    of 4/3 (a word) and its UTF-8 bytes / 4; the sum rounded up."""
    if not text:
        return 0
    cjk = len(_CJK.findall(text))
    runs = _CJK.sub(" ", text).split()
    rest = sum(max(WORD_TOKENS, len(run.encode("utf-8", "surrogatepass")) / BYTES_PER_TOKEN) for run in runs)
    return cjk + math.ceil(rest - 1e-9)


def normalize(text: str) -> str:
    """The dedupe key: NFKC, whitespace collapsed, case-folded."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def pii_found(text: str) -> str | None:
    """Kind of the first personal datum or secret left in `text` (e.g. 'email', 'phone', 'card'),
    else None: the same detectors as ingest (rftlab.privacy, docs/privacy.md)."""

    _, counts = scrub(text)
    return sorted(counts)[0] if counts else None


# Flags an ingest may set on a message whose PII it detected but could not clean.
PII_FLAGS = ("pii_unclean", "pii_flags", "pii_residual")


def pii_flagged(message: dict) -> bool:
    return any(bool(message.get(k)) for k in PII_FLAGS)
