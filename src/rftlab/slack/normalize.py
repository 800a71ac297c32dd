"""Slack markup -> plain text, the way a reader sees the message.

Slack stores mentions, channel links, special mentions and links as `<...>` tokens
and escapes `&`, `<`, `>` as HTML entities. Style features must see what the author
saw (`@田中`, `#general`, a link's label), not ids. Pure functions; no I/O.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

URL_PLACEHOLDER = "<URL>"

TOKEN = re.compile(r"<([^<>\n]{1,2000})>")
CODE_BLOCK = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
SPECIAL = {"here": "@here", "channel": "@channel", "everyone": "@everyone", "group": "@group"}
UPLOAD_PREFIX = re.compile(
    r"^\s*<@[UW][A-Z0-9]+(?:\|[^>]*)?>\s+(?:uploaded|shared) a file:\s*(?:<[^>]*>|\S+)\s*(?:and commented:\s*)?"
)
SCHEME = re.compile(r"^(?:https?|ftp)://", re.IGNORECASE)


def _bare(url: str) -> str:
    return SCHEME.sub("", url).removeprefix("www.").rstrip("/").lower()


class Normalizer:
    """Resolve Slack `<...>` tokens through the export's users and channels."""

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        channels: Mapping[str, str] | None = None,
        *,
        drop_code_blocks: bool = False,
    ):
        self.users = dict(users or {})
        self.channels = dict(channels or {})
        self.drop_code_blocks = drop_code_blocks

    def token(self, inner: str) -> str:
        """One `<...>` token's replacement."""
        target, _, label = inner.partition("|")
        label = label.strip()
        if target.startswith("@"):
            uid = target[1:]
            name = self.users.get(uid) or label.lstrip("@") or uid
            return f"@{name}"
        if target.startswith("#"):
            cid = target[1:]
            name = label.lstrip("#") or self.channels.get(cid) or cid
            return f"#{name}"
        if target.startswith("!"):
            cmd = target[1:]
            if cmd in SPECIAL:
                return SPECIAL[cmd]
            if cmd.startswith("subteam^"):
                return "@" + label.lstrip("@") if label else "@team"
            if cmd.startswith("date^"):
                return label or "<DATE>"
            return label or f"@{cmd.split('^', 1)[0]}"
        lower = target.lower()
        if lower.startswith("mailto:"):
            return label or target[len("mailto:"):]
        if lower.startswith("tel:"):
            return label or target[len("tel:"):]
        if "://" in target or lower.startswith("www."):
            if not label or _bare(label) == _bare(target) or SCHEME.match(label):
                return URL_PLACEHOLDER
            return label
        return f"<{inner}>"  # not Slack markup (e.g. an escaped literal that survived); keep

    def __call__(self, text: str) -> str:
        """Normalize one message's text: code blocks, `<...>` tokens, entities, whitespace."""
        if not text:
            return ""
        text = UPLOAD_PREFIX.sub("", text)
        if self.drop_code_blocks:
            text = CODE_BLOCK.sub(" ", text)
        text = TOKEN.sub(lambda m: self.token(m.group(1)), text)
        text = unescape(text)
        return tidy(text)


def unescape(text: str) -> str:
    """HTML entities, including double-escaped ones (`&amp;lt;` -> `<`)."""
    for _ in range(3):
        if "&" not in text:
            break
        new = html.unescape(text)
        if new == text:
            break
        text = new
    return text


_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANKS = re.compile(r"\n{3,}")


def tidy(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()
