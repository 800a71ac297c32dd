"""Team-scale test helpers: an `mlflow server` on loopback, databases on the local PostgreSQL, a
clone of the repository with small params, and `dvc` in a subprocess."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def mlflow_server(backend_uri: str, artifacts: Path, log: Path, timeout: float = 180.0) -> Iterator[str]:
    """`mlflow server` on 127.0.0.1 with a PostgreSQL backend store and a served artifact store
    (`--artifacts-destination`, a local folder here); stopped (its whole process group) on exit."""
    port = free_port()
    cmd = [str(BIN / "mlflow"), "server", "--backend-store-uri", backend_uri, "--artifacts-destination", str(artifacts),
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server not healthy after {timeout:.0f}s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def create_database(admin_url: str, prefix: str) -> str:
    import sqlalchemy as sa

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin_url: str, url: str) -> None:
    import sqlalchemy as sa

    name = url.rsplit("/", 1)[1]
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(sa.text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    engine.dispose()


def clone(dst: Path, params: dict | None = None) -> Path:
    """A git clone of the repository's HEAD with the pipeline shrunk to seconds per stage."""
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(dst)], check=True)
    p = yaml.safe_load((dst / "params.yaml").read_text(encoding="utf-8"))
    p["sample"]["messages"] = 1200
    p["calibrate"]["trials"] = 4
    p["base_model"].update({"epochs": 1, "d_model": 32, "n_layer": 1, "n_head": 2})
    p["rft"]["local"]["max_steps"] = 2
    p["rft"]["local"]["val_prompts"] = 4
    p["rft"]["local"]["hyperparameters"].update({"batchSize": 2, "trainingSamplePerPrompt": 2, "evalInterval": 1})
    p["evaluate"].update({"max_prompts": 4, "samples_per_prompt": 1, "bootstrap": 100})
    p["preflight"].update({"prompts": 4, "enforce": False})  # the 1-epoch model writes noise: nothing to learn
    p["check"]["attack"].update({"budget": 50, "seeds": [0]})  # the full red team runs in CI's own pipeline
    for section, values in (params or {}).items():
        p[section] = {**p.get(section, {}), **values}
    (dst / "params.yaml").write_text(yaml.safe_dump(p, allow_unicode=True, sort_keys=False), encoding="utf-8")
    git(dst, "commit", "--quiet", "-am", "small params")
    return dst


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def dvc(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run `dvc` in `repo` (the clone's own code on PYTHONPATH); the output, or a failure showing it."""
    full = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(repo / "src"),
            **(env or {})}
    out = subprocess.run([str(BIN / "dvc"), *args], cwd=repo, env=full, capture_output=True, text=True)
    assert out.returncode == 0, f"dvc {' '.join(args)} failed ({out.returncode}):\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out.stdout + out.stderr
