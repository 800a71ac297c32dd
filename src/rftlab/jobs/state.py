"""The job's state on disk: one small JSON file per spec hash, written atomically.

A killed `rft` stage leaves this file behind; the rerun loads it by spec hash and resumes
or reports the job rather than submitting a duplicate.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rftlab.config import project_root
from rftlab.errors import InputError
from rftlab.io import write_json

Status = Literal["InProgress", "Completed", "Failed", "Stopping", "Stopped"]
TERMINAL: frozenset[str] = frozenset({"Completed", "Failed", "Stopped"})


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class JobState(BaseModel):
    """Where a job stands (Bedrock's status vocabulary, for every backend)."""

    model_config = ConfigDict(extra="allow")

    job_id: str
    spec_hash: str
    backend: str
    status: Status = "InProgress"
    run_id: str | None = None
    model_id: str | None = None
    created_at: str = Field(default_factory=now_iso)
    updated_at: str = Field(default_factory=now_iso)
    cost_usd: float = 0.0
    duration_min: float = 0.0
    failure_message: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def update(self, **changes: Any) -> JobState:
        """A copy with `changes` applied and `updated_at` bumped."""
        return self.model_copy(update={**changes, "updated_at": now_iso()})


class StateStore:
    """Job states under `root`, one `<spec_hash>.json` each."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, spec_hash: str) -> Path:
        return self.root / f"{spec_hash}.json"

    def save(self, state: JobState) -> JobState:
        write_json(self.path(state.spec_hash), state.model_dump(mode="json"))
        return state

    def load(self, spec_hash: str) -> JobState | None:
        """The job for this spec hash, or None when there is none yet."""
        p = self.path(spec_hash)
        return self._read(p) if p.exists() else None

    def find(self, job_id: str) -> JobState | None:
        """Look a job up by id (or spec hash, or a unique prefix of either)."""
        hits = [s for s in self.all() if s.job_id == job_id or s.spec_hash == job_id]
        if not hits:
            hits = [s for s in self.all() if s.job_id.startswith(job_id) or s.spec_hash.startswith(job_id)]
        return hits[0] if len(hits) == 1 else None

    def all(self) -> list[JobState]:
        """Every job in the store, newest first."""
        if not self.root.exists():
            return []
        states = [self._read(p) for p in self.root.glob("*.json")]
        return sorted(states, key=lambda s: s.updated_at, reverse=True)

    @staticmethod
    def _read(p: Path) -> JobState:
        try:
            return JobState.model_validate(json.loads(p.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{p}: corrupt job state file ({exc})") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            raise InputError(f"{p}: invalid job state: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def default_store() -> StateStore:
    """The project's job store, outside DVC outputs so `dvc repro` never deletes it."""

    return StateStore(os.environ.get("RFTLAB_JOBS_DIR") or project_root() / ".rftlab" / "jobs")
