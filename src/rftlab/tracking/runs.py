"""Stage runs: store, experiment, git and DVC lineage, and what a running stage logs.

Every stage opens one run through `stage_run`: the experiment comes from params, the run
kind goes into the `rftlab.kind` tag, and the run records the git commit (plus the diff
when the tree is dirty) and the DVC digests of its inputs. A run that raises ends
FAILED (KILLED on Ctrl-C) so `mlflow ui` never shows an orphan RUNNING row.
Everything logged through here (the diff, params, tags, dicts, texts) passes through
rftlab.privacy.redact first: credentials and secret-looking values never leave the process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rftlab.config import load_params, project_root
from rftlab.io import path_md5
from rftlab.privacy.redact import redact_obj, redact_params, redact_text
from rftlab.locks import hostname, process_alive, process_token
from rftlab.tracking.store import ensure_experiment, open_store

log = logging.getLogger(__name__)

KIND = "rftlab.kind"
GRADER_VERSION = "rftlab.grader_version"
JOB_ID = "rftlab.job_id"
BACKEND = "rftlab.backend"
STUDY = "rftlab.study"          # an Optuna study's name (calibration and search runs, trial job runs)
STUDY_KEY = "rftlab.study_key"  # its identity: storage + name (rftlab.studies.urls.study_key)
PID, HOST = "rftlab.pid", "rftlab.host"  # the process holding a RUNNING run (locks.process_token)
KINDS = {
    "ingest", "sample", "profile", "calibration", "calibration-trial", "grader-check", "prompts",
    "base-model", "rft-job", "evaluation", "search", "grader", "preflight", "comparison",
}


def _mlflow():
    import mlflow

    return mlflow


def use_experiment(experiment_id: str):
    """mlflow.set_experiment without its side effect on os.environ: it exports MLFLOW_EXPERIMENT_ID,
    which every process started afterwards inherits (an `mlflow run --experiment-name` child then
    refuses both options; a dvc stage would log to this experiment whatever its params say)."""
    before = os.environ.get("MLFLOW_EXPERIMENT_ID")
    try:
        return _mlflow().set_experiment(experiment_id=experiment_id)
    finally:
        if before is None:
            os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
        else:
            os.environ["MLFLOW_EXPERIMENT_ID"] = before


def setup(experiment: str | None = None) -> str:
    """Point MLflow at the project's store and experiment; returns the experiment id."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if logging.getLogger().getEffectiveLevel() > logging.INFO:  # store-migration chatter only with -v
        logging.getLogger("mlflow").setLevel(logging.WARNING)
    open_store()  # first-time schema setup under a file lock (store.py)
    name = experiment or load_params().tracking.experiment
    exp = use_experiment(ensure_experiment(name))  # artifacts follow the store (store.py)
    from rftlab.tracking.views import describe_once

    describe_once(exp.experiment_id)  # kind, description and the saved job view mlflow ui opens on (views.py)
    return exp.experiment_id


def process_tags() -> dict[str, str]:
    """Which process holds a run open: a later start ends the run KILLED once this process is gone."""
    return {PID: process_token(), HOST: hostname()}


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=project_root(), capture_output=True, text=True, timeout=20, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


# What `dvc repro` itself rewrites (the lock, the committed headline metrics and plot data): a fresh
# clone that ran the pipeline is not dirty because of them, and the logged diff leaves them out.
DVC_WRITTEN = ("dvc.lock", "metrics/", "plots/")


def _dvc_written(path: str) -> bool:
    path = path.strip().strip('"')
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in DVC_WRITTEN)


def git_state() -> dict[str, Any]:
    """Commit, dirty flag and diff of the project's git tree (empty when not a repo); changes
    DVC makes to its own outputs (DVC_WRITTEN) do not count."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return {}
    status = _git("status", "--porcelain", "--untracked-files=no") or ""
    changed = [line[3:].split(" -> ")[-1] for line in status.splitlines() if line.strip()]
    dirty = any(not _dvc_written(p) for p in changed)
    diff = _git("diff", "HEAD", "--", ".", *(f":(exclude){p}" for p in DVC_WRITTEN)) if dirty else None
    return {"commit": commit.strip(), "dirty": dirty, "diff": diff}


def dep_tags(deps: Mapping[str, str | os.PathLike] | None) -> dict[str, str]:
    """`dvc.dep.<name>` -> MD5 as DVC records it (a file's bytes; a folder's listing)."""
    tags = {}
    for name, path in (deps or {}).items():
        p = Path(path)
        if p.exists():
            tags[f"dvc.dep.{name}"] = path_md5(p)
    return tags


@contextlib.contextmanager
def stage_run(
    kind: str,
    *,
    run_name: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    deps: Mapping[str, str | os.PathLike] | None = None,
    run_id: str | None = None,
    parent_run_id: str | None = None,
    experiment: str | None = None,
) -> Iterator[Any]:
    """Open (or resume, with `run_id`) one MLflow run for a stage; always close it.

    Under `mlflow run` (MLFLOW_RUN_ID set) each stage becomes a child of that run rather
    than writing into it, so stages cannot clash over immutable params.
    """
    mlflow = _mlflow()
    exp_id = setup(experiment)
    if kind not in KINDS:
        raise ValueError(f"unknown run kind {kind!r}")
    try:
        close_orphans(experiment_id=exp_id)  # what a killed predecessor left RUNNING (any stage of this experiment)
    except Exception as exc:  # the sweep must never stop a stage
        log.debug("orphan sweep skipped: %s", exc)
    outer = os.environ.pop("MLFLOW_RUN_ID", None)
    if parent_run_id is None and outer and outer != run_id:
        parent_run_id = outer
    try:
        run = mlflow.start_run(
            run_id=run_id,
            run_name=run_name if run_id is None else None,
            parent_run_id=parent_run_id if run_id is None else None,
            nested=parent_run_id is not None or mlflow.active_run() is not None,
        )
    except BaseException:
        if outer is not None:
            os.environ["MLFLOW_RUN_ID"] = outer
        raise
    status = "FAILED"
    try:
        all_tags = {KIND: kind, **dep_tags(deps), **(tags or {}), **process_tags()}
        git = git_state()
        if git:
            all_tags.update({"rftlab.git_commit": git["commit"], "rftlab.git_dirty": str(git["dirty"]).lower()})
            all_tags.setdefault("mlflow.source.git.commit", git["commit"])
            if git["diff"]:
                mlflow.log_text(redact_text(git["diff"]), "git/diff.patch")
        mlflow.set_tags(redact_params(all_tags))
        if params:
            log_params(params)
        yield run
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        mlflow.end_run(status=status)
        if outer is not None:  # end_run unsets MLFLOW_RUN_ID; later stages in this process need it
            os.environ["MLFLOW_RUN_ID"] = outer


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested params -> dotted keys, the way MLflow shows them side by side."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, f"{key}."))
        else:
            out[key] = v
    return out


def log_params(params: Mapping[str, Any]) -> None:
    mlflow = _mlflow()
    flat = {k: ("" if v is None else str(v))[:6000] for k, v in redact_params(flatten(params)).items()}
    items = list(flat.items())
    for i in range(0, len(items), 100):
        mlflow.log_params(dict(items[i : i + 100]))


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    clean = {k: float(v) for k, v in metrics.items() if v is not None}
    if clean:
        _mlflow().log_metrics(clean, step=step)


def set_tags(tags: Mapping[str, Any]) -> None:
    _mlflow().set_tags(redact_params({k: str(v) for k, v in tags.items()}))


def log_artifact(path: str | os.PathLike, artifact_path: str | None = None) -> None:
    _mlflow().log_artifact(str(path), artifact_path=artifact_path)


def log_dict(obj: Any, artifact_file: str) -> None:
    _mlflow().log_dict(redact_obj(obj), artifact_file)


def log_text(text: str, artifact_file: str) -> None:
    _mlflow().log_text(redact_text(text), artifact_file)


def log_figure(fig: Any, artifact_file: str) -> None:
    _mlflow().log_figure(fig, artifact_file)


def log_table(data: Any, artifact_file: str) -> None:
    _mlflow().log_table(data=data, artifact_file=artifact_file)


def log_input_file(path: str | os.PathLike, *, name: str | None = None, context: str = "input") -> str:
    """Log a file as an MLflow dataset whose digest is the file's MD5; returns the digest."""
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    p = Path(path).resolve()
    digest = path_md5(p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        source = resolve_dataset_source(str(p))
    dataset = MetaDataset(source=source, name=name or p.name, digest=digest[:32])
    for attempt in range(3):
        try:
            _mlflow().log_input(dataset, context=context)
            break
        except Exception as exc:  # two processes logging one new dataset at once: the loser finds it on a retry
            text = str(exc).lower()
            if attempt == 2 or not ("unique" in text or "integrity" in text):
                raise
            time.sleep(0.2 * (attempt + 1))
    return digest


def find_runs(tag: str, value: str, *, experiment: str | None = None, kind: str | None = None) -> list[Any]:
    """Runs of the experiment whose `tag` equals `value` (and of `kind`), newest first.

    A job's evaluations carry its `rftlab.job_id` too: look a job's own run up with kind="rft-job"."""
    mlflow = _mlflow()
    exp_id = setup(experiment)
    safe = value.replace("'", "\\'")
    only = f" and tags.`{KIND}` = '{kind}'" if kind else ""
    return mlflow.search_runs(
        experiment_ids=[exp_id],
        filter_string=f"tags.`{tag}` = '{safe}'{only}",
        order_by=["attributes.start_time DESC"],
        output_format="list",
    )


def orphaned(run: Any) -> bool:
    """A RUNNING run whose process is gone (runs from before process tags count as gone)."""
    if run.info.status != "RUNNING":
        return False
    tags = run.data.tags
    if PID not in tags:
        return True
    return process_alive(tags[PID], tags.get(HOST)) is False


def close_orphans(tag: str | None = None, value: str | None = None, status: str = "KILLED", *,
                  kind: str | None = None, experiment_id: str | None = None) -> int:
    """End KILLED the runs left RUNNING by a process that is gone; returns how many.

    With `tag`/`value`: the runs carrying that tag (a run from before process tags counts as
    gone). Without: every RUNNING run of the experiment that names its process. A run still
    held by a live process (another worker, another pipeline) or by another host is left alone.
    """
    mlflow = _mlflow()
    if tag is not None:
        runs = find_runs(tag, str(value))
    else:
        runs = mlflow.search_runs(experiment_ids=[experiment_id or setup()],
                                  filter_string="attributes.status = 'RUNNING'", output_format="list")
        runs = [r for r in runs if PID in r.data.tags]
    client = mlflow.MlflowClient()  # after find_runs/setup: the store is open (its schema made under the lock)
    n = 0
    for run in runs:
        if (kind is None or run.data.tags.get(KIND) == kind) and orphaned(run):
            client.set_terminated(run.info.run_id, status=status)
            n += 1
    if n:
        log.info("ended %d run(s) left RUNNING by a killed process", n)
    return n


def active_run_id() -> str | None:
    run = _mlflow().active_run()
    return run.info.run_id if run else None
