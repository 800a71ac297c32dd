"""A process's worker slot on a study: 0 for the first live worker, 1 for a second, ...

A slot is a lease in the study's database (leases.py), held until the process exits: a SIGKILLed
worker's slot is free again at once on its host (its process is gone), elsewhere after a day. The
caller decides what a slot means (calibration shifts its sampler's seed by it, so two workers on one
study sample different points while a single worker stays repeatable).
"""

from __future__ import annotations

import atexit
import logging

from rftlab.errors import ConfigError
from rftlab.studies.leases import Leases, worker_id

log = logging.getLogger(__name__)

MAX_WORKERS = 64
SLOT_TTL_S = 86_400.0
_CLAIMED: dict[tuple[str, str, str], int] = {}


def claim_worker(url: str, study: str, role: str) -> int:
    """This process's slot among the `role` workers (e.g. "calibrate") of study `study` at `url`.

    One process is one worker, however many times it asks (the first answer is kept)."""
    if (url, study, role) in _CLAIMED:
        return _CLAIMED[(url, study, role)]
    leases = Leases(url)
    owner = worker_id()
    for slot in range(MAX_WORKERS):
        key = f"{role}:{study}:worker:{slot}"
        if leases.acquire(key, owner, ttl=SLOT_TTL_S):
            atexit.register(_release, leases, key, owner)
            _CLAIMED[(url, study, role)] = slot
            if slot:
                log.info("%s worker %d on study %s (another worker is running)", role, slot, study)
            return slot
    leases.close()
    raise ConfigError(f"Optuna study {study!r}: {MAX_WORKERS} {role} workers already running")


def _release(leases: Leases, key: str, owner: str) -> None:
    try:
        leases.release(key, owner)
        leases.close()
    except Exception as exc:  # the database may be gone at exit; the lease then expires
        log.debug("worker lease %s not released: %s", key, exc)
