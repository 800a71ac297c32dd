"""Helpers for the record tests: the CLI in its own process group, the store's rows, the job state."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

RFT = ["rft", "--train", "train.jsonl", "--val", "val.jsonl", "--grader", "grader.json",
       "--job-out", "out/job.json", "--model-out", "out/model", "--metrics", "out/rft.json", "--quiet"]


def cli_env(project: Path, db: Path, jobs: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{db}", "RFTLAB_PARAMS": str(project / "params.yaml")}
    env["RFTLAB_JOBS_DIR"] = str(jobs or project / "jobs")
    return env


def start(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    """`python -m rftlab ARGS` as the leader of its own process group (signals go to the group)."""
    return subprocess.Popen([sys.executable, "-m", "rftlab", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def finish(proc: subprocess.Popen, timeout: float = 900) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def job_state(jobs: Path) -> dict | None:
    files = sorted(p for p in jobs.glob("*.json"))
    return json.loads(files[0].read_text(encoding="utf-8")) if files else None


def signal_at_step(proc: subprocess.Popen, jobs: Path, step: int, sig: int, timeout: float = 600) -> int:
    """Send `sig` to the process group once the job's state reports `step`; returns the step seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        st = job_state(jobs)
        seen = (st or {}).get("details", {}).get("step") or 0
        if seen >= step:
            os.killpg(proc.pid, sig)
            return seen
        time.sleep(0.05)
    raise AssertionError(f"the job never reached step {step} (exit {proc.poll()})")


def rows(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db, timeout=60) as con:
        return con.execute(sql, args).fetchall()


def runs_of(db: Path, key: str, value: str, kind: str | None = None) -> list[tuple[str, str]]:
    """(run id, status) of the runs tagged key=value (and of `kind`)."""
    found = rows(db, "SELECT r.run_uuid, r.status FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
                     "WHERE t.key = ? AND t.value = ?", key, value)
    if kind is None:
        return found
    return [r for r in found if rows(db, "SELECT value FROM tags WHERE run_uuid = ? AND key = 'rftlab.kind'",
                                     r[0]) == [(kind,)]]


def rows_per_key_step(db: Path, run_id: str) -> dict[tuple[str, int], int]:
    return {(k, s): n for k, s, n in rows(db, "SELECT key, step, COUNT(*) FROM metrics WHERE run_uuid = ? "
                                              "GROUP BY key, step", run_id)}


def steps_of(db: Path, run_id: str, key: str) -> list[int]:
    return [s for (s,) in rows(db, "SELECT step FROM metrics WHERE run_uuid = ? AND key = ? ORDER BY step",
                               run_id, key)]


KILL, INT = signal.SIGKILL, signal.SIGINT
