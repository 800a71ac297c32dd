"""Text folded for matching: NFKC, with a map from folded offsets back to the original text.

Detectors match on the NFKC form, so full-width digits and letters (０９０, ｔａｒｏ＠…), the
full-width hyphen and half-width katakana (ﾊﾟｽﾜｰﾄﾞ) look like what they mean. The whole-string
NFKC runs in C and is all most messages need; the offset map (one NFKC call per character
cluster: a character plus the voicing or combining marks that follow it) is built only for a
text in which something was found, to put the placeholder over the original characters.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# marks that compose with the character before them under NFKC (half-width and combining voicing)
_MARKS = frozenset("\uff9e\uff9f\u3099\u309a")


@dataclass(frozen=True)
class Folded:
    """NFKC text plus, per folded character, the original [start, end) it came from (None: same text)."""

    text: str
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original text's span of the folded span [start, end)."""
        if self.starts is None or self.ends is None:
            return start, end
        if end <= start:
            pos = self.starts[start] if start < len(self.starts) else (self.ends[-1] if self.ends else 0)
            return pos, pos
        return self.starts[start], self.ends[end - 1]


def quick(text: str) -> str:
    """NFKC of the whole text (C speed); what detectors scan first."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def fold(text: str) -> Folded:
    """NFKC text with an offset map, built cluster by cluster."""
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return Folded(text)
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        while j < n and (text[j] in _MARKS or unicodedata.combining(text[j])):
            j += 1
        piece = unicodedata.normalize("NFKC", text[i:j])
        out.append(piece)
        starts.extend([i] * len(piece))
        ends.extend([j] * len(piece))
        i = j
    return Folded("".join(out), tuple(starts), tuple(ends))
