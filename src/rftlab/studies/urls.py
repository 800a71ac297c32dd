"""Storage URLs as records see them: without credentials, and a study's identity (storage + name).

A study is named within one storage: a sqlite file and a PostgreSQL database may each hold a study
called `shared`, and they are different studies. Records that find a study's MLflow runs again
therefore use `study_key`, a digest of where the study lives and its name, never the name alone.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

SQLITE = "sqlite:///"
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}


def redact(url: str) -> str:
    """The storage URL without its password, safe for MLflow params and messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def sqlite_file(url: str) -> Path | None:
    """The database file of a `sqlite:///` URL (None for other storages and in-memory sqlite)."""
    if not url.startswith(SQLITE):
        return None
    path = url[len(SQLITE):].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def identity(url: str) -> str:
    """Where a storage lives, the same however it is spelled: backend, host, port and database (a
    sqlite file's absolute path); no credentials, no driver (`postgresql+psycopg2` = `postgresql`)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return redact(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        file = sqlite_file(url)
        return f"sqlite:///{file.resolve().as_posix()}" if file else "sqlite://"
    port = parsed.port or DEFAULT_PORTS.get(backend, "")
    return f"{backend}://{(parsed.host or '').lower()}:{port}/{parsed.database or ''}"


def study_key(url: str, name: str) -> str:
    """A study's identity for records: a digest of its storage's identity and its name."""
    return hashlib.sha256(f"{identity(url)}\n{name}".encode()).hexdigest()[:16]
