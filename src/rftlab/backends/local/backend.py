"""Local RFT backend: TRL GRPO on CPU, in this process, resumable from checkpoints.

State lives in the StateStore (one JSON per spec hash) and the job folder
`.rftlab/jobs/<spec_hash>/` (checkpoints, metrics.jsonl, tuned model). One process trains a job
at a time: it holds `.rftlab/jobs/<spec_hash>.lock` (fcntl, released by the kernel when the
process dies, SIGKILL included); a second attempt at the same job waits for it, following its
progress, and takes over only if it dies before the job is done. The job's MLflow run belongs to
the job's execution (its state, `rftlab.execution`), so an interrupted stage resumes the same
run, and a second project sharing the MLflow store keeps its own.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

from rftlab import contracts, tracking
from rftlab.backends.local.run import run_job
from rftlab.jobs.spec import JobSpec
from rftlab.jobs.state import JobState, StateStore, default_store
from rftlab.locks import release, try_lock
from rftlab.progress import bar as progress_bar

log = logging.getLogger(__name__)


def pid_alive(pid: int | None) -> bool:
    if not pid or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalBackend:
    name = "local"

    def __init__(self, params: Any = None, store: StateStore | None = None) -> None:
        self.params = params
        self.store = store or default_store()

    # ------------------------------------------------------------------ protocol
    def submit(self, spec: JobSpec) -> JobState:
        """The job for this spec: the existing one if any (never a duplicate), else a new one."""
        h = spec.spec_hash()
        if existing := self.store.load(h):
            return existing
        state = JobState(job_id=spec.job_id(), spec_hash=h, backend=self.name,
                         details={"spec": spec.model_dump(mode="json"), "elapsed_s": 0.0,
                                  "execution": uuid.uuid4().hex})  # this state's execution: its own MLflow run
        return self.store.save(state)

    def status(self, state: JobState) -> JobState:
        fresh = self.store.load(state.spec_hash) or state
        pid = fresh.details.get("pid")
        if fresh.status in ("InProgress", "Stopping") and pid and not pid_alive(pid):
            fresh = fresh.update(details={**fresh.details, "pid": None, "interrupted": True})
            if fresh.status == "Stopping":
                fresh = fresh.update(status="Stopped")
            self.store.save(fresh)
        return fresh

    def job_dir(self, state: JobState) -> Path:
        return self.store.root / state.spec_hash

    def lock_path(self, state: JobState) -> Path:
        return self.store.root / f"{state.spec_hash}.lock"

    def wait(self, state: JobState, progress: bool = True) -> JobState:
        """Run the job to its end here (resuming from its last checkpoint); no-op when done.

        If another live process is training it, follow that process's state file instead, and
        take the job over if that process dies before the job is done.
        """

        state = self.status(state)
        while not state.done:
            held = try_lock(self.lock_path(state))
            if held is None:
                log.warning("job %s is being trained by another process (pid %s): waiting for it", state.job_id,
                            state.details.get("pid") or "?")
                state = self._follow(state, progress)
                continue
            try:
                state = self.status(state)  # re-read under the lock: the other process may have finished it
                if state.done:
                    return state
                return run_job(self, state, progress=progress)
            finally:
                release(held)
        return state

    def _follow(self, state: JobState, progress: bool) -> JobState:
        """Show the training process's progress until the job is done or nobody holds it any more."""

        bar = progress_bar(state.details.get("max_steps") or None, desc=state.job_id, unit="step", enabled=progress)
        try:
            while not state.done:
                time.sleep(1.0)
                state = self.status(state)
                bar.total = state.details.get("max_steps") or bar.total
                bar.update(int(state.details.get("step") or 0) - bar.n)
                free = try_lock(self.lock_path(state))
                if free is not None:  # the trainer ended (or died): the caller looks again
                    release(free)
                    return self.status(state)
        finally:
            bar.close()
        return state

    def metrics(self, state: JobState) -> list[tuple[int, dict[str, float]]]:
        path = self.job_dir(state) / "metrics.jsonl"
        if not path.exists():
            return []
        merged: dict[int, dict[str, float]] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                step = int(row.pop("step"))
                row.pop("time", None)
                merged.setdefault(step, {}).update(row)
        return sorted(merged.items())

    def stop(self, state: JobState) -> JobState:
        """Ask the training process to stop (it saves the model and ends Stopped)."""
        state = self.status(state)
        if state.done:
            return state
        pid = state.details.get("pid")
        if pid_alive(pid):
            state = self.store.save(state.update(status="Stopping"))
            return state

        tracking.close_orphans(contracts.JOB_ID, state.job_id, status="KILLED")
        return self.store.save(state.update(status="Stopped"))

    def model_id(self, state: JobState) -> str | None:
        return state.model_id

    def cost(self, state: JobState) -> float:
        rate = float(getattr(getattr(self.params, "local", None), "hourly_usd", 0.0) or 0.0)
        return round(float(state.details.get("elapsed_s", 0.0)) / 3600.0 * rate, 6)
