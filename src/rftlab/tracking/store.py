"""Where runs and their artifacts go: the tracking store URI and an artifact location that follows it.

- `MLFLOW_TRACKING_URI` wins (a tracking server `http://host:port`, a database URI, a sqlite
  file); without it the store is `sqlite:///<project root>/mlflow.db`.
- A relative sqlite path (`sqlite:///mlflow.db`) is read against the project root, not the
  working directory, so every stage and every `dvc exp run` writes to one store.
- Inside `dvc exp run --temp` (and queued experiments), DVC runs the stages in a copy of the
  workspace under `<repo>/.dvc/tmp/exps/standalone/tmpXXXX/`, deleted afterwards. "The project root" is then
  the repository that owns the copy: its `mlflow.db` (or relative sqlite path) is used, never a
  second store inside the copy.
- Opening a sqlite store for the first time in a process happens under an advisory lock on
  `<file>-lock` beside the database (`open_store`): MLflow creates and migrates a new store's
  schema without any lock of its own in its tracking store (mlflow/store/tracking/
  sqlalchemy_store.py calls `_initialize_tables` directly), so two processes opening a fresh
  store at once would both migrate it; under the lock the second one finds the tables made.
- A new experiment in a sqlite store keeps its artifacts in `mlruns/<experiment>/` beside the
  database file (MLflow's own default is `./mlruns` of whichever working directory created the
  experiment). With a tracking server the server decides (`mlflow server
  --artifacts-destination`, see docs/scaling.md). With a database URI and no server, MLflow's
  default stays, and a warning says where artifacts go.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

from rftlab.config import project_root
from rftlab.locks import file_lock

log = logging.getLogger(__name__)

SQLITE = "sqlite:///"
_EXPS = (".dvc", "tmp", "exps")


def mlflow_api() -> Any:
    """The mlflow module, imported on first use: commands that never track stay fast."""
    # mlflow loads on first use: commands that never track stay fast
    import mlflow

    return mlflow


def workspace_root(start: Path | None = None) -> Path:
    """The project root; inside a DVC experiment copy (`.dvc/tmp/exps/[standalone/]tmpXXXX/...`,
    made by `dvc exp run --temp` and queued runs), the same folder in the repository that owns it."""
    root = project_root(start)
    parts = root.parts
    for i in range(len(parts) - len(_EXPS)):
        if parts[i : i + len(_EXPS)] != _EXPS:
            continue
        rest = parts[i + len(_EXPS) :]
        copy = next((j for j, part in enumerate(rest) if part.startswith("tmp")), None)  # mkdtemp's prefix
        if copy is not None:
            return Path(*parts[:i], *rest[copy + 1 :])
    return root


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI (None for other stores and in-memory sqlite)."""
    if not uri.startswith(SQLITE):
        return None
    path = uri[len(SQLITE):].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path)


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI (a relative sqlite path read against the project), else the project's sqlite store."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if not env:
        return f"{SQLITE}{(workspace_root() / 'mlflow.db').as_posix()}"
    db = sqlite_path(env)
    if db is None or db.is_absolute():
        return env
    _, sep, query = env.partition("?")
    return f"{SQLITE}{(workspace_root() / db).resolve().as_posix()}{sep}{query}"


_OPENED: set[str] = set()


def open_store() -> str:
    """Point MLflow at the project's store and make sure its schema exists; returns the URI.

    The first open of a sqlite file in this process takes `<file>-lock`, turns on WAL (parallel
    writers stop blocking each other) and lets MLflow create or migrate the tables; any other
    process doing the same waits, then finds them made.
    """
    # mlflow loads on first use: commands that never track stay fast
    import mlflow

    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    if uri in _OPENED:
        return uri
    db = sqlite_path(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(db.with_name(db.name + "-lock")):
            _sqlite_wal(db)
            mlflow.MlflowClient(uri).search_experiments(max_results=1)  # creates/migrates the schema
    _OPENED.add(uri)
    return uri


def _sqlite_wal(db: Path) -> None:
    try:
        with contextlib.closing(sqlite3.connect(db, timeout=60)) as con:
            con.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:  # a read-only or odd store still works without WAL
        log.debug("could not enable WAL on %s: %s", db, exc)


def artifact_root(uri: str) -> Path | None:
    """Where a sqlite store's new experiments keep artifacts (`mlruns/` beside the file); None otherwise."""
    db = sqlite_path(uri)
    return db.parent / "mlruns" if db is not None else None


def experiment_artifact_location(uri: str, name: str) -> str | None:
    """The artifact location rftlab gives a new experiment `name` in store `uri` (None = the store decides)."""
    root = artifact_root(uri)
    if root is None:
        return None
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "experiment"
    if slug != name:  # keep two names that map to one slug apart
        slug = f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    return (root / slug).resolve().as_uri()


_WARNED: set[tuple[str, str]] = set()


def warn_if_elsewhere(uri: str, name: str, location: str) -> None:
    """Say once per process when an experiment's artifacts do not sit with its store."""
    if (uri, name) in _WARNED:
        return
    _WARNED.add((uri, name))
    root = artifact_root(uri)
    local = location.removeprefix("file://")
    if root is not None and local.startswith("/") and not Path(local).resolve().is_relative_to(root.resolve()):
        log.warning("MLflow experiment %r keeps its artifacts in %s (set when it was created), not beside %s",
                    name, local, sqlite_path(uri))
    elif root is None and not uri.startswith(("http://", "https://", "databricks")) and local.startswith("/"):
        log.warning("MLflow experiment %r keeps its artifacts in %s on this machine: use a tracking server "
                    "with an artifact store to share them (docs/scaling.md)", name, local)


def ensure_experiment(name: str) -> str:
    """The id of experiment `name` in the current store, created with an artifact location that
    follows the store when it does not exist yet (a concurrent creator wins harmlessly)."""
    # mlflow loads on first use: commands that never track stay fast
    import mlflow
    from mlflow.exceptions import MlflowException

    uri = mlflow.get_tracking_uri()
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            return client.create_experiment(name, artifact_location=experiment_artifact_location(uri, name))
        except MlflowException:
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
    warn_if_elsewhere(uri, name, exp.artifact_location)
    return exp.experiment_id
