"""The message records of a Slack export, one conversation at a time, as a reader sees them.

A `message_changed` record (an edit, possibly in a later day file than the message) is
folded into the message it edits, which keeps its place and its day; an edit whose
original is not in the export stands in for it. The same message twice (same
conversation and ts) comes out once, the repeat flagged. A bad day file raises
InputError naming it, or with on_error "skip" is recorded in `skipped` and passed over.

Memory per conversation: the edits (a first pass parses only the day files whose bytes
mention one) and the set of timestamps seen; nothing grows across conversations.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from rftlab.errors import InputError
from rftlab.slack.export import Conversation, SlackExport

log = logging.getLogger(__name__)

EDIT = "message_changed"


def edit_of(rec: Any) -> dict | None:
    """The edited message a `message_changed` record carries (None for any other record)."""
    if isinstance(rec, dict) and rec.get("subtype") == EDIT and isinstance(rec.get("message"), dict):
        new = dict(rec["message"])
        new.setdefault("ts", rec.get("ts"))
        new["edited"] = new.get("edited") or {"ts": rec.get("ts")}
        return new
    return None


def _ts_key(ts: Any) -> float:
    try:
        return float(ts)
    except (TypeError, ValueError):
        return 0.0


class ExportRecords:
    """Walks an export's day files; counts the day files read and the ones skipped."""

    def __init__(self, export: SlackExport, on_error: str, skipped: dict[str, str] | None = None):
        self.export = export
        self.on_error = on_error
        self.skipped: dict[str, str] = {} if skipped is None else skipped
        self.day_files = 0

    def _bad(self, rel: str, exc: InputError) -> None:
        if self.on_error != "skip":
            raise exc
        log.warning("skipping %s", exc)
        self.skipped[rel] = str(exc)

    def _day(self, rel: str, raw: bytes | None = None) -> list | None:
        """A day file's records, or None when it is bad and skipped."""
        if rel in self.skipped:
            return None
        try:
            return self.export.read_day(rel, raw)
        except InputError as exc:
            self._bad(rel, exc)
            return None

    def edits(self, conv: Conversation) -> dict[str, tuple[str, dict]]:
        """ts -> (date of the edit's day file, the latest edited message) for one conversation."""
        found: dict[str, tuple[str, dict]] = {}
        for rel, date in self.export.iter_days(conv):
            try:
                raw = self.export.raw(rel)
            except InputError as exc:
                self._bad(rel, exc)
                continue
            if EDIT.encode() not in raw:
                continue
            for rec in self._day(rel, raw) or []:
                new = edit_of(rec)
                if new is None:
                    continue
                key, old = str(new.get("ts")), found.get(str(new.get("ts")))
                if old is None or _ts_key(new["edited"].get("ts")) >= _ts_key(old[1]["edited"].get("ts")):
                    found[key] = (date, new)
        return found

    def of(self, conv: Conversation) -> Iterator[tuple[Any, str, bool]]:
        """(record, day, is_repeat) for one conversation, oldest day file first, edits folded in."""
        edits = self.edits(conv)
        seen: set[str] = set()
        for rel, date in self.export.iter_days(conv):
            records = self._day(rel)
            if records is None:
                continue
            self.day_files += 1
            for rec in records:
                if edit_of(rec) is not None:
                    continue
                if isinstance(rec, dict) and rec.get("ts") is not None:
                    key = str(rec["ts"])
                    if key in seen:
                        yield rec, date, True
                        continue
                    seen.add(key)
                    if key in edits:
                        rec = {**rec, **edits.pop(key)[1]}
                yield rec, date, False
        for key in sorted(edits, key=_ts_key):  # edits whose original is not in the export
            date, new = edits[key]
            yield new, date, False
