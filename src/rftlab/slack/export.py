"""Read a Slack export (a .zip or an unpacked folder) one day file at a time.

A Slack export holds users.json, channels.json (plus groups.json, dms.json and
mpims.json for private channels and direct messages when the exporter had access),
and one folder per conversation with one YYYY-MM-DD.json per day. Only the small
metadata files and the list of file names are held in memory; day files are read
and parsed one by one, so memory does not grow with the size of the export.

Layouts (Slack's help, "How to read Slack data exports",
https://slack.com/help/articles/220556107): an Enterprise Grid export names its member
list org_users.json instead of users.json; it is read like users.json. Grid lets an admin
export one workspace or the whole organisation; an archive whose conversation lists sit
in workspace sub-folders is refused (export one workspace instead), and so is an archive
holding two exports side by side: reading either would silently leave out the other.
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from rftlab.errors import InputError

DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.json$")
USER_LISTS = ("users.json", "org_users.json")  # org_users.json: Enterprise Grid
# (metadata file, conversation kind, key naming the folder)
LISTS = (
    ("channels.json", "channel", "name"),
    ("groups.json", "private", "name"),
    ("mpims.json", "mpim", "name"),
    ("dms.json", "dm", "id"),
)


@dataclass(frozen=True)
class Conversation:
    """One conversation folder and what the metadata lists say about it."""

    folder: str
    id: str
    name: str
    kind: str
    purpose: str = ""
    days: tuple[str, ...] = field(default=(), compare=False)  # day-file paths, sorted by date


def _decode(raw: bytes, where: str) -> Any:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


class SlackExport:
    """A Slack export opened for streaming. Use as a context manager (closes the zip)."""

    def __init__(self, source: str | Path):
        self.source = Path(source)
        self.label = self.source.name or str(self.source)
        self._zip: zipfile.ZipFile | None = None
        self._prefix = ""
        if self.source.is_dir():
            names = sorted(
                p.relative_to(self.source).as_posix() for p in self.source.rglob("*.json") if p.is_file()
            )
        elif self.source.is_file():
            if not zipfile.is_zipfile(self.source):
                raise InputError(f"{self.label}: not a zip file or a folder (a Slack export is a .zip or its unpacked folder)")
            try:
                self._zip = zipfile.ZipFile(self.source)
                names = sorted(n for n in self._zip.namelist() if n.endswith(".json"))
            except (zipfile.BadZipFile, OSError) as exc:
                raise InputError(f"{self.label}: unreadable zip: {exc}") from None
        else:
            raise InputError(f"{self.source}: export not found")
        self._names = self._locate_root(names)
        self.users: list[dict] = self._users()
        self.conversations: list[Conversation] = self._conversations()

    # ------------------------------------------------------------------ layout

    def _locate_root(self, names: list[str]) -> set[str]:
        """Find the export's root inside the archive (some re-zipped exports nest one folder).

        Refuses archives that hold more than one export, or conversation lists in workspace
        sub-folders (an Enterprise Grid org-wide layout), naming the folders found.
        """
        lists = {name for name, _, _ in LISTS} | set(USER_LISTS)
        list_dirs = sorted({_parent(n) for n in names if PurePosixPath(n).name in lists})
        if not list_dirs:
            kind = "folder" if self._zip is None else "zip"
            raise InputError(f"{self.label}: not a Slack export ({kind} has no users.json or channels.json)")
        user_dirs = sorted({_parent(n) for n in names if PurePosixPath(n).name in USER_LISTS})
        dirs = user_dirs or list_dirs
        candidates = [d for d in dirs if not any(d != o and d.startswith(o) for o in dirs)]  # outermost
        if len(candidates) > 1:
            found = ", ".join(_show_dir(d) for d in candidates)
            raise InputError(f"{self.label}: holds {len(candidates)} Slack exports ({found}); "
                             "unpack it and point ingest.source at one export folder")
        self._prefix = candidates[0]
        outside = [d for d in list_dirs if not d.startswith(self._prefix)]
        if outside:
            found = ", ".join(_show_dir(d) for d in [self._prefix, *outside])
            raise InputError(f"{self.label}: holds more than one Slack export ({found}); "
                             "unpack it and point ingest.source at one export folder")
        nested = [d for d in list_dirs if d != self._prefix]
        if nested:
            grid = any(n == self._prefix + "org_users.json" for n in names)
            layout = "an Enterprise Grid org-wide export" if grid else "an export"
            found = ", ".join(_show_dir(d) for d in nested[:10]) + (f" and {len(nested) - 10} more" if len(nested) > 10 else "")
            raise InputError(f"{self.label}: {layout} with conversation lists in workspace folders ({found}) "
                             "is not supported; export a single workspace instead")
        return {n[len(self._prefix):] for n in names if n.startswith(self._prefix)}

    def where(self, rel: str) -> str:
        """How errors name a file inside the export: `export.zip:general/2025-01-02.json`."""
        return f"{self.label}:{rel}"

    def raw(self, rel: str) -> bytes:
        """One file's bytes; errors (missing, corrupt compressed data, bad CRC) name the file."""
        where = self.where(rel)
        try:
            if self._zip is not None:
                return self._zip.read(self._prefix + rel)
            return (self.source / self._prefix / rel).read_bytes()
        except (KeyError, FileNotFoundError):
            raise InputError(f"{where}: file not found") from None
        except zlib.error as exc:
            raise InputError(f"{where}: unreadable (corrupt compressed data: {exc})") from None
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
            raise InputError(f"{where}: unreadable ({exc})") from None

    def read(self, rel: str, raw: bytes | None = None) -> Any:
        """Parse one JSON file of the export (or its already-read bytes); errors name the file."""
        return _decode(self.raw(rel) if raw is None else raw, self.where(rel))

    def _read_list(self, rel: str) -> list[dict]:
        if rel not in self._names:
            return []
        data = self.read(rel)
        if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
            raise InputError(f"{self.where(rel)}: expected a JSON list of objects")
        return data

    def _users(self) -> list[dict]:
        present = [rel for rel in USER_LISTS if rel in self._names]
        if not present:
            raise InputError(f"{self.where('users.json')}: missing (every Slack export has one)")
        users: dict[str, dict] = {}
        for rel in present:
            for u in self._read_list(rel):
                users.setdefault(str(u.get("id")), u)
        return list(users.values())

    def _conversations(self) -> list[Conversation]:
        days: dict[str, list[str]] = {}
        for name in self._names:
            parts = name.split("/")
            if len(parts) == 2 and DAY_FILE.match(parts[1]):
                days.setdefault(parts[0], []).append(name)
        convs: dict[str, Conversation] = {}
        for rel, kind, key in LISTS:
            for item in self._read_list(rel):
                folder = str(item.get(key) or item.get("id") or "")
                if not folder or folder in convs:
                    continue
                purpose = item.get("purpose") or {}
                convs[folder] = Conversation(
                    folder=folder,
                    id=str(item.get("id") or folder),
                    name=str(item.get("name") or folder),
                    kind=kind,
                    purpose=str(purpose.get("value", "")) if isinstance(purpose, dict) else "",
                    days=tuple(sorted(days.get(folder, []))),
                )
        for folder, files in days.items():  # folders no list mentions still hold messages
            if folder not in convs:
                convs[folder] = Conversation(folder, folder, folder, "unknown", "", tuple(sorted(files)))
        return [convs[k] for k in sorted(convs)]

    # ------------------------------------------------------------------ reading

    @property
    def n_day_files(self) -> int:
        return sum(len(c.days) for c in self.conversations)

    def day_date(self, rel: str) -> str:
        return DAY_FILE.match(PurePosixPath(rel).name).group(1)  # type: ignore[union-attr]

    def read_day(self, rel: str, raw: bytes | None = None) -> list[dict]:
        """One day file's records; raises InputError naming the file when it is bad."""
        data = self.read(rel, raw)
        if not isinstance(data, list):
            raise InputError(f"{self.where(rel)}: expected a JSON list of messages, got {type(data).__name__}")
        return data

    def iter_days(self, conv: Conversation) -> Iterator[tuple[str, str]]:
        """(day-file path, date) for one conversation, oldest first."""
        for rel in conv.days:
            yield rel, self.day_date(rel)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def __enter__(self) -> SlackExport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parent(name: str) -> str:
    """'a/b/users.json' -> 'a/b/' ('' at the top level)."""
    return name.rpartition("/")[0] + "/" if "/" in name else ""


def _show_dir(prefix: str) -> str:
    return prefix or "the top level"


def user_names(users: list[dict]) -> dict[str, str]:
    """user id -> the name Slack shows: profile.display_name, then real_name, then name."""
    out = {}
    for u in users:
        uid = u.get("id")
        if not uid:
            continue
        prof = u.get("profile") or {}
        name = (
            (prof.get("display_name") or "").strip()
            or (u.get("real_name") or "").strip()
            or (prof.get("real_name") or "").strip()
            or (u.get("name") or "").strip()
            or str(uid)
        )
        out[str(uid)] = name
    return out


def bot_user_ids(users: list[dict]) -> set[str]:
    return {str(u["id"]) for u in users if u.get("id") and (u.get("is_bot") or u.get("id") == "USLACKBOT")}
