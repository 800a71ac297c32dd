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


# --------------------------------------------------------------------------- rich_text blocks
# Messages written in Slack's composer carry a `rich_text` block; some (imports, apps, edits)
# carry it with an empty `text`. Shape, from Slack's Block Kit reference
# (https://docs.slack.dev/reference/block-kit/blocks/rich-text-block and the rich text
# elements under https://docs.slack.dev/reference/block-kit/block-elements): a `rich_text`
# block holds `elements` of rich_text_section | rich_text_list | rich_text_preformatted |
# rich_text_quote; each holds `elements` of text {text, style}, link {url, text}, emoji
# {name}, user {user_id}, usergroup {usergroup_id}, channel {channel_id}, broadcast {range},
# date {timestamp, format, fallback}, color {value}; a list holds sections and has `style`
# (bullet | ordered), `indent` and `offset`. They are turned into the same Slack markup the
# `text` field uses, so one Normalizer treats both.

_STYLE_MARKS = (("code", "`"), ("strike", "~"), ("italic", "_"), ("bold", "*"))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _leaf(el: object) -> str:
    """One rich text element as Slack markup."""
    if not isinstance(el, dict):
        return ""
    kind = el.get("type")
    if kind == "text":
        text = _escape(str(el.get("text") or ""))
        style = el.get("style") if isinstance(el.get("style"), dict) else {}
        core = text.strip()
        if core:
            for key, mark in _STYLE_MARKS:  # as the `text` field writes them: *bold* _italic_ ~strike~ `code`
                if style.get(key):
                    core = f"{mark}{core}{mark}"
            head, tail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()):]
            text = head + core + tail
        return text
    if kind == "link":
        url, label = str(el.get("url") or ""), str(el.get("text") or "")
        return f"<{url}|{_escape(label)}>" if label else f"<{url}>"
    if kind == "user":
        return f"<@{el.get('user_id', '')}>"
    if kind == "usergroup":
        return f"<!subteam^{el.get('usergroup_id', '')}>"
    if kind == "channel":
        return f"<#{el.get('channel_id', '')}>"
    if kind == "broadcast":
        return f"<!{el.get('range', 'here')}>"
    if kind == "emoji":
        return f":{el.get('name', '')}:"
    if kind == "date":
        fallback = _escape(str(el.get("fallback") or ""))
        return f"<!date^{el.get('timestamp', '')}^{el.get('format', '')}|{fallback}>" if fallback else "<!date>"
    if kind == "color":
        return str(el.get("value") or "")
    return _escape(str(el.get("text") or ""))


def _section(el: dict) -> str:
    items = el.get("elements")
    return "".join(_leaf(x) for x in items) if isinstance(items, list) else ""


def _rich_element(el: object) -> str:
    """One rich_text sub-element (section, list, preformatted, quote) as markup lines."""
    if not isinstance(el, dict):
        return ""
    kind = el.get("type")
    if kind == "rich_text_section":
        return _section(el)
    if kind == "rich_text_preformatted":
        return "```\n" + _section(el) + "\n```"
    if kind == "rich_text_quote":
        return "\n".join("&gt; " + line for line in _section(el).split("\n"))
    if kind == "rich_text_list":
        items = el.get("elements") if isinstance(el.get("elements"), list) else []
        indent = "  " * int(el.get("indent") or 0) if str(el.get("indent") or 0).isdigit() else ""
        start = int(el.get("offset") or 0) if str(el.get("offset") or 0).isdigit() else 0
        ordered = el.get("style") == "ordered"
        return "\n".join(f"{indent}{f'{start + i}.' if ordered else '•'} {_rich_element(x)}"
                         for i, x in enumerate(items, start=1))
    return ""


def blocks_markup(blocks: object) -> str:
    """The Slack markup of a message's `rich_text` blocks ('' when it has none)."""
    if not isinstance(blocks, list):
        return ""
    out = []
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "rich_text" and isinstance(block.get("elements"), list):
            out.extend(text for text in (_rich_element(el) for el in block["elements"]) if text)
    return "\n".join(out)
