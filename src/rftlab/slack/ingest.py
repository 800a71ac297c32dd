"""Slack export -> messages file (docs/contracts.md#messages-file) + ingest report. Streams one day file at a time.

Keeps what a person wrote (no subtype, thread_broadcast, me_message, file_share with
text); drops bots, system events (joins, topic changes ...), tombstones and deleted or
hidden records, each counted under its reason. Thread structure survives: `thread_ts`,
`is_reply` and `parent_user` (from `parent_user_id`, else from the parent seen earlier
in the same conversation: a small per-conversation map of thread parents only).

Text is the record's `text`, else the markup of its `rich_text` blocks. Records come from
rftlab.slack.records: edits folded into the message they edit (also across day files), the
same message twice kept once (dropped as `duplicate`), bad day files failing or skipped.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

from rftlab.config import IngestParams
from rftlab.errors import InputError
from rftlab.privacy.scrub import KINDS, scrub
from rftlab.slack.export import Conversation, SlackExport, bot_user_ids, user_names
from rftlab.slack.normalize import Normalizer, blocks_markup
from rftlab.slack.records import ExportRecords

KEEP_SUBTYPES = {None, "", "thread_broadcast", "reply_broadcast", "me_message", "file_share"}
DROP_ALWAYS = {"tombstone": "tombstone", "message_deleted": "deleted", "bot_message": "bot"}


class Report:
    """Counts by user, channel and drop reason; JSON of numbers only (a DVC metrics file)."""

    def __init__(self) -> None:
        self.records = 0
        self.kept = 0
        self.dropped: Counter = Counter()
        self.users: dict[str, Counter] = defaultdict(Counter)
        self.channels: dict[str, Counter] = defaultdict(Counter)
        self.pii: Counter = Counter({k: 0 for k in KINDS})
        self.messages_with_pii = 0
        self.edited = 0
        self.replies = 0
        self.day_files = 0
        self.skipped: dict[str, str] = {}
        self.channels_filtered = 0

    def keep(self, user: str, channel: str) -> None:
        self.kept += 1
        self.users[user]["kept"] += 1
        self.channels[channel]["kept"] += 1

    def drop(self, reason: str, user: str | None, channel: str) -> None:
        self.dropped[reason] += 1
        self.channels[channel][f"dropped_{reason}"] += 1
        if user:
            self.users[user][f"dropped_{reason}"] += 1

    def to_dict(self) -> dict[str, Any]:
        def block(c: Counter) -> dict[str, int]:
            d = {k: int(v) for k, v in sorted(c.items())}
            d.setdefault("kept", 0)
            d["dropped"] = sum(v for k, v in c.items() if k.startswith("dropped_"))
            return d

        return {
            "records": self.records,
            "messages_kept": self.kept,
            "messages_dropped": sum(self.dropped.values()),
            "dropped_by_reason": dict(sorted(self.dropped.items())),
            "replies": self.replies,
            "edited": self.edited,
            "users_kept": sum(1 for c in self.users.values() if c["kept"]),
            "channels_kept": sum(1 for c in self.channels.values() if c["kept"]),
            "day_files": self.day_files,
            "channels_filtered_out": self.channels_filtered,
            "pii_scrubbed": dict(sorted(self.pii.items())),
            "messages_with_pii": self.messages_with_pii,
            "skipped_files": len(self.skipped),
            "skipped": {path: 1 for path in sorted(self.skipped)},
            "per_user": {u: block(c) for u, c in sorted(self.users.items())},
            "per_channel": {ch: block(c) for ch, c in sorted(self.channels.items())},
        }


def _drop_reason(rec: dict, bots: set[str]) -> str | None:
    """Why a record is not a human message (None = keep)."""
    subtype = rec.get("subtype")
    if subtype in DROP_ALWAYS:
        return DROP_ALWAYS[subtype]
    if rec.get("bot_id") or rec.get("user") in bots:
        return "bot"
    if rec.get("hidden"):
        return "hidden"
    if subtype not in KEEP_SUBTYPES:
        return str(subtype)
    if rec.get("type", "message") != "message":
        return "not_message"
    if not rec.get("user"):
        return "no_user"
    return None


class Ingestor:
    """Turns one export into message rows, filling a Report as it goes."""

    def __init__(self, export: SlackExport, params: IngestParams, on_error: str | None = None):
        self.export = export
        self.params = params
        self.on_error = on_error or params.on_error
        self.names = user_names(export.users)
        self.bots = bot_user_ids(export.users)
        channel_names = {c.id: c.name for c in export.conversations}
        self.normalize = Normalizer(self.names, channel_names, drop_code_blocks=params.drop_code_blocks)
        self.report = Report()
        self.wanted_channels = set(params.channels)
        self.wanted_users = set(params.users)
        self.date_from = params.date_from.isoformat() if params.date_from else None
        self.date_to = params.date_to.isoformat() if params.date_to else None

    def _check_channels(self) -> None:
        """Every name in ingest.channels must match a conversation (name, id or folder)."""
        known = {key for c in self.export.conversations for key in (c.name, c.id, c.folder)}
        missing = sorted(self.wanted_channels - known)
        if missing:
            names = sorted({c.name for c in self.export.conversations if c.kind != "dm"})
            shown = ", ".join(names[:30]) + (f" and {len(names) - 30} more" if len(names) > 30 else "")
            raise InputError(f"ingest.channels: no channel matched {', '.join(missing)} in {self.export.label} "
                             f"(available: {shown or 'none'})")

    def rows(self) -> Iterator[dict]:
        if self.wanted_channels:
            self._check_channels()
        reader = ExportRecords(self.export, self.on_error, self.report.skipped)
        for conv in self.export.conversations:
            if self.wanted_channels and not ({conv.name, conv.id, conv.folder} & self.wanted_channels):
                self.report.channels_filtered += 1
                continue
            parents: dict[str, str] = {}  # thread ts -> parent's author, this conversation only
            for rec, date, repeat in reader.of(conv):
                if repeat:
                    self.report.records += 1
                    self.report.drop("duplicate", str(rec.get("user") or "") or None, conv.name)
                    continue
                row = self._row(rec, conv, date, parents)
                if row is not None:
                    yield row
            self.report.day_files = reader.day_files

    def _row(self, rec: Any, conv: Conversation, date: str, parents: dict[str, str]) -> dict | None:
        """A kept record as a messages-file row (None: dropped, counted under its reason).

        Long: the record's fields in the order the messages file lists them (docs/contracts.md#messages-file).
        """
        rep, channel = self.report, conv.name
        rep.records += 1
        if not isinstance(rec, dict):
            rep.drop("malformed", None, channel)
            return None
        user = rec.get("user")
        user = str(user) if user else None
        ts = str(rec.get("ts") or "")
        thread_ts = rec.get("thread_ts")
        thread_ts = str(thread_ts) if thread_ts else None
        if user and thread_ts and thread_ts == ts:
            parents[ts] = user
        reason = _drop_reason(rec, self.bots)
        if reason is None and not ts:
            reason = "no_ts"
        if reason is None and not isinstance(rec.get("text") or "", str):
            reason = "malformed"
        if reason is None and self.wanted_users and user not in self.wanted_users:
            reason = "user_filter"
        if reason is None and ((self.date_from and date < self.date_from) or (self.date_to and date > self.date_to)):
            reason = "date_range"
        if reason is not None:
            rep.drop(reason, user, channel)
            return None
        text = self.normalize(rec.get("text") or blocks_markup(rec.get("blocks")))
        if self.params.scrub_pii:
            text, found = scrub(text)
            if found:
                rep.pii.update(found)
                rep.messages_with_pii += 1
        if not text:
            rep.drop("empty", user, channel)
            return None
        if len(text) < self.params.min_chars:
            rep.drop("too_short", user, channel)
            return None
        is_reply = bool(thread_ts and thread_ts != ts)
        parent_user = None
        if is_reply:
            parent_user = rec.get("parent_user_id") or parents.get(thread_ts)  # type: ignore[arg-type]
            rep.replies += 1
        if rec.get("edited"):
            rep.edited += 1
        rep.keep(user, channel)  # type: ignore[arg-type]
        return {
            "id": f"{channel}:{ts}",
            "user": user,
            "user_name": self.names.get(user, user),  # type: ignore[arg-type]
            "text": text,
            "ts": ts,
            "date": date,
            "channel": channel,
            "channel_id": conv.id,
            "thread_ts": thread_ts,
            "is_reply": is_reply,
            "parent_user": parent_user,
            "group": f"{channel}:{thread_ts}" if thread_ts else f"{channel}:{date}",
            "subtype": rec.get("subtype"),
            "edited": bool(rec.get("edited")),
        }
