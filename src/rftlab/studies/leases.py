"""Leases in the study's own database: one owner per critical section, across workers.

Several workers share one Optuna study through an RDB storage (sqlite file or PostgreSQL). Optuna
has no compare-and-set on trial attributes, so two search workers could both launch past
`max_concurrent` or both follow the same job, and two calibration workers could take one worker
slot (workers.py). A small table next to Optuna's, `rftlab_search_leases(name, owner, expires)`
(named when only the search used it; kept, so workers of older and newer versions agree), gives
each critical section one owner: taking a lease is one atomic INSERT, or an UPDATE that only
matches when the lease expired or its owner's process is gone (same host). A SIGKILLed worker's
leases are taken over at once on its host, after `ttl` seconds elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from collections.abc import Iterator

import sqlalchemy as sa

from rftlab.errors import RftlabError
from rftlab.studies.storage import engine_options

TABLE = "rftlab_search_leases"


def worker_id() -> str:
    """host:pid:random, unique per process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _owner_dead(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Leases:
    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url, **engine_options(url))
        meta = sa.MetaData()
        self.table = sa.Table(TABLE, meta, sa.Column("name", sa.String(255), primary_key=True),
                              sa.Column("owner", sa.String(255), nullable=False),
                              sa.Column("expires", sa.Float, nullable=False))
        try:
            meta.create_all(self.engine, checkfirst=True)
        except sa.exc.IntegrityError:  # another worker created it at the same moment
            pass
        except sa.exc.ProgrammingError:  # PostgreSQL: concurrent CREATE TABLE
            pass
        except sa.exc.OperationalError as exc:  # sqlite: "table ... already exists" after a concurrent CREATE
            if "already exists" not in str(exc):
                raise

    def acquire(self, name: str, owner: str, ttl: float) -> bool:
        """Take or renew the lease `name`; False when another live owner holds it."""
        t = self.table
        now = time.time()
        try:
            with self.engine.begin() as c:
                c.execute(t.insert().values(name=name, owner=owner, expires=now + ttl))
            return True
        except sa.exc.IntegrityError:
            pass
        with self.engine.begin() as c:
            row = c.execute(sa.select(t.c.owner, t.c.expires).where(t.c.name == name)).first()
            if row is None:
                return False
            takeover = row.owner == owner or row.expires < now or _owner_dead(row.owner)
            if not takeover:
                return False
            done = c.execute(t.update().where((t.c.name == name) & (t.c.owner == row.owner))
                             .values(owner=owner, expires=now + ttl))
            return done.rowcount == 1

    def release(self, name: str, owner: str) -> None:
        t = self.table
        with self.engine.begin() as c:
            c.execute(t.delete().where((t.c.name == name) & (t.c.owner == owner)))

    @contextlib.contextmanager
    def hold(self, name: str, owner: str, ttl: float = 120.0, timeout: float = 600.0) -> Iterator[None]:
        """Wait for the lease, hold it for the block, release it."""
        deadline = time.time() + timeout
        while not self.acquire(name, owner, ttl):
            if time.time() > deadline:
                raise RftlabError(f"lease {name!r} still held by another worker after {timeout:.0f} s")
            time.sleep(0.2)
        try:
            yield
        finally:
            self.release(name, owner)

    def close(self) -> None:
        self.engine.dispose()
