"""Build the RFT prompt set from a messages file: prompts colleagues wrote, answered by the target.

Core (`build_prompt_set`) is pure: messages in, records + accounting out. The stage around it
(files, MLflow) is prompts_stage.py.

A record (docs/contracts.md#prompt-records): {"messages": [system?, user], "reference_answer",
"channel", "thread_ts", "prompt_user", "id", "source"} where `id` is the prompt message's
id and `source` is thread | channel | template | paraphrase. Filters, in order, each
counted under `dropped`: empty_reference, pii (raw e-mail/phone/secret left, or a message
flagged by ingest), too_short / too_long (`min_chars`/`max_chars` on the prompt message,
stripped), over_max_prompt_length (system + prompt estimated tokens above
`prompts.max_prompt_tokens`, so every output passes `prompts validate`),
duplicate (normalised prompt text: NFKC, whitespace, case; the earliest answer is kept).
The system message is `system_prompt` and/or the channel purpose (`use_channel_purpose`,
read from the message field `channel_purpose` or `purpose`), joined by a blank line.
Thread context (`context_tokens` > 0): the latest earlier messages of the thread as
"name: text" lines, within the smaller of the budget and the room left under
maxPromptLength, then a blank line, then the prompt.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rftlab.aws.clients import credentials_available
from rftlab.config import PromptsParams
from rftlab.prompts.augment import augment, bedrock_paraphraser
from rftlab.prompts.pairs import Pair, find_pairs, render_context
from rftlab.prompts.split import split_by_unit
from rftlab.prompts.text import estimate_tokens, normalize, pii_flagged, pii_found

log = logging.getLogger(__name__)

REASONS = ("empty_reference", "pii", "too_short", "too_long", "over_max_prompt_length", "duplicate")


@dataclass
class PromptSet:
    train: list[dict]
    val: list[dict]
    messages: int
    pairs: Counter = field(default_factory=Counter)  # by source
    dropped: Counter = field(default_factory=Counter)  # by reason
    augmented: dict[str, int] = field(default_factory=dict)


def system_message(pair: Pair, cfg: PromptsParams) -> str | None:
    parts = [cfg.system_prompt or ""]
    if cfg.use_channel_purpose:
        parts.append(str(pair.prompt.get("channel_purpose") or pair.prompt.get("purpose") or ""))
    text = "\n\n".join(p.strip() for p in parts if p and p.strip())
    return text or None


def text_problem(text: str, cfg: PromptsParams, max_prompt_length: int, system: str | None = None) -> str | None:
    """Why a prompt text cannot be used (a REASONS entry), or None. Shared with augmentation."""
    if pii_found(text):
        return "pii"
    n = len(text.strip())
    if n < cfg.min_chars:
        return "too_short"
    if n > cfg.max_chars:
        return "too_long"
    if estimate_tokens(system or "") + estimate_tokens(text) > max_prompt_length:
        return "over_max_prompt_length"
    return None


def make_record(pair: Pair, cfg: PromptsParams, max_prompt_length: int) -> tuple[dict | None, str | None]:
    """One pair -> (record, None) or (None, reason)."""
    prompt = str(pair.prompt.get("text") or "").strip()
    reference = str(pair.reply.get("text") or "").strip()
    if not reference:
        return None, "empty_reference"
    if pii_flagged(pair.prompt) or pii_flagged(pair.reply) or pii_found(reference):
        return None, "pii"
    system = system_message(pair, cfg)
    if reason := text_problem(prompt, cfg, max_prompt_length, system):
        return None, reason
    content = prompt
    room = max_prompt_length - estimate_tokens(system or "") - estimate_tokens(prompt) - 2
    budget = min(cfg.context_tokens, room)
    if budget > 0 and pair.context:
        clean = tuple(m for m in pair.context if not pii_flagged(m) and not pii_found(str(m.get("text") or "")))
        lines = render_context(clean, budget)
        if lines:
            content = "\n".join(lines) + "\n\n" + prompt
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": content}]
    record = {
        "messages": messages,
        "reference_answer": reference,
        "channel": pair.channel,
        "thread_ts": pair.thread_ts,
        "prompt_user": str(pair.prompt["user"]),
        "id": str(pair.prompt["id"]),
        "source": pair.source,
    }
    return record, None


def build_prompt_set(
    messages: list[dict],
    author: str,
    cfg: PromptsParams,
    *,
    max_prompt_length: int,
    paraphrase: Any = None,
) -> PromptSet:
    """Pairs -> filtered, deduplicated records -> thread/time split -> optional augmentation."""
    pairs = find_pairs(messages, author, reply_window_min=cfg.reply_window_min)
    out = PromptSet(train=[], val=[], messages=len(messages), pairs=Counter(p.source for p in pairs))
    kept: list[tuple[dict, float | None]] = []
    seen: set[str] = set()
    for pair in pairs:
        record, reason = make_record(pair, cfg, max_prompt_length)
        if record is not None:
            key = normalize(str(pair.prompt.get("text") or ""))
            if key in seen:
                record, reason = None, "duplicate"
            else:
                seen.add(key)
        if record is None:
            out.dropped[reason] += 1
            continue
        kept.append((record, pair.time))
    train, val = split_by_unit(
        kept,
        unit=lambda rt: (rt[0]["channel"], rt[0]["thread_ts"]),
        time=lambda rt: rt[1],
        val_fraction=cfg.val_fraction,
        seed=cfg.seed,
    )
    out.train, out.val = [r for r, _ in train], [r for r, _ in val]

    def accept(text: str) -> str | None:
        if reason := text_problem(text, cfg, max_prompt_length):
            return reason
        return "duplicate" if normalize(text) in seen else None

    a = cfg.augment
    extra, out.augmented = augment(
        out.train, min_count=a.min_count, templates=a.templates, seed=cfg.seed, paraphrase=paraphrase, accept=accept
    )
    out.train.extend(extra)
    return out


def paraphraser_for(cfg: PromptsParams) -> Any:
    """The Bedrock paraphraser when enabled AND credentials exist, else None (logged)."""

    a = cfg.augment
    if not a.bedrock_paraphrase or a.min_count <= 0:
        return None
    if not credentials_available():
        log.warning("augment.bedrock_paraphrase is true but no AWS credentials were found: skipping paraphrases")
        return None
    return bedrock_paraphraser(a.paraphrase_model_id, a.region)
