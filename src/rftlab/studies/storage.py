"""Opening an Optuna RDB storage (a sqlite file or PostgreSQL): engine options and the one retry loop.

Several processes may open a fresh database at the same moment (two calibration workers, two search
workers, a pipeline and a search). Optuna creates its tables and version row on first open, and the
loser of that race sees an integrity or "already exists" error; once the tables exist, the next try
succeeds. Any other error (a bad URL, a missing driver, a server that is down) is one readable line
naming the params key the URL came from.
"""

from __future__ import annotations

import time
from typing import Any

import optuna
from sqlalchemy import event

from rftlab.errors import ConfigError
from rftlab.studies.urls import redact, sqlite_file

ATTEMPTS = 5


def engine_options(url: str) -> dict[str, Any]:
    """SQLAlchemy engine options: sqlite waits up to a minute for a writer's lock; PostgreSQL checks a
    pooled connection before use (a long search outlives server restarts and idle timeouts)."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}
    return {"pool_pre_ping": True}


def fast_sqlite(engine: Any, url: str) -> None:
    """sqlite in WAL mode with synchronous=NORMAL: one fsync per checkpoint, not per commit (still
    crash-safe), and readers never wait for the writer. No-op for other storages."""
    if not url.startswith("sqlite"):
        return

    @event.listens_for(engine, "connect")
    def _pragma(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    engine.dispose()  # connections opened before the listener (Optuna's schema check) lack the pragmas


def creation_race(exc: BaseException) -> bool:
    """An error from two processes creating one database's tables at once (retrying succeeds)."""
    text = f"{type(exc).__name__} {exc}".lower()
    return any(w in text for w in ("integrity", "unique", "already exists", "duplicate", "locked"))


def open_storage(url: str, *, setting: str) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage at `url`, its tables created when missing. `setting` names the params key
    the URL came from (`calibrate.storage`, `search.storage`) in the one-line error."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a Ctrl-C must not print a trial traceback
    file = sqlite_file(url)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(ATTEMPTS):
        try:
            rdb = optuna.storages.RDBStorage(url, engine_kwargs=engine_options(url))
            break
        except Exception as exc:  # bad URL, driver missing, server down: one readable line
            if attempt == ATTEMPTS - 1 or not creation_race(exc):
                raise ConfigError(f"{setting} {redact(url)}: cannot open Optuna storage ({exc})") from None
            time.sleep(0.5 * (attempt + 1))
    fast_sqlite(rdb.engine, url)
    return rdb
