"""Storage URLs as records see them: without credentials."""

from __future__ import annotations

import re
from pathlib import Path

SQLITE = "sqlite:///"


def redact(url: str) -> str:
    """The storage URL without its password, safe for MLflow params and messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def sqlite_file(url: str) -> Path | None:
    """The database file of a `sqlite:///` URL (None for other storages and in-memory sqlite)."""
    if not url.startswith(SQLITE):
        return None
    path = url[len(SQLITE):].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None

