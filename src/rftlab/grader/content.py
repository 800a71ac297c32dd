"""Message `content` as the grader reads it: the text parts are scored, every other part is recorded.

Shapes AWS documents for a message's content:
- a string (the RFT data format's examples: user guide nova-rft.html, rft-prepare-data.html);
- a list of OpenAI-style parts `{"type": "text", "text": ...}` (the RFT evaluation data format, SageMaker AI
  developer guide nova-hp-evaluate-rft.html);
- a list of Converse ContentBlocks, a union whose members are `text`, `image`, `document`, `video`, `audio`,
  `toolUse`, `toolResult`, `guardContent`, `cachePoint`, `reasoningContent` (`reasoningText` {text,
  signature} or `redactedContent`), `citationsContent`, `searchResult`, ... (botocore's bedrock-runtime
  service model, ContentBlock; API reference API_runtime_ContentBlock.html).
RFT is text only (nova-rft.html, "Current limitations: text only"), and a reply's reasoning is not the reply:
a `reasoningContent` block (or any other non-text part) is not scored, its kind is counted so the grader's
metrics show what came (`content_part_<kind>`), and a content with no text part at all stays unscorable.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

TEXT_TYPES = frozenset({"text", "output_text", "input_text"})  # OpenAI part types carrying `text`


def _part(p: Any) -> tuple[str | None, str | None]:
    """(text, None) for a text part; (None, kind) for any other part."""
    if isinstance(p, str):
        return p, None
    if not isinstance(p, dict):
        return None, type(p).__name__
    kind = p.get("type")
    if isinstance(p.get("text"), str) and (kind is None or kind in TEXT_TYPES):
        return p["text"], None
    if isinstance(kind, str):
        return None, kind
    keys = [k for k in p if isinstance(k, str)]
    return None, (keys[0] if len(keys) == 1 else "unknown")  # a Converse union member: its one key


def read_content(content: Any) -> tuple[str | None, dict[str, int]]:
    """(the text parts joined, or None when there is none; {kind of non-text part: count})."""
    if isinstance(content, str):
        return content, {}
    parts = content if isinstance(content, list) else [content] if isinstance(content, dict) else None
    if parts is None:
        return None, {}
    texts, others = [], Counter()
    for p in parts:
        text, kind = _part(p)
        if text is not None:
            texts.append(text)
        else:
            others[str(kind)] += 1
    return ("".join(texts) if texts else None), dict(others)
