"""The only module that talks to MLflow.

Every stage opens one run through `stage_run`: the experiment comes from params, the run
kind goes into the `rftlab.kind` tag, and the run records the git commit (plus the diff
when the tree is dirty) and the DVC digests of its inputs. A run that raises ends
FAILED (KILLED on Ctrl-C) so `mlflow ui` never shows an orphan RUNNING row.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from rftlab.config import load_params, project_root
from rftlab.io import path_md5

log = logging.getLogger(__name__)

KIND = "rftlab.kind"
GRADER_VERSION = "rftlab.grader_version"
JOB_ID = "rftlab.job_id"
BACKEND = "rftlab.backend"
KINDS = {
    "ingest", "sample", "profile", "calibration", "calibration-trial", "grader-check", "prompts",
    "base-model", "rft-job", "evaluation", "search", "grader",
}


def _mlflow():
    import mlflow

    return mlflow


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI when set, else sqlite:///<project root>/mlflow.db."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{(project_root() / 'mlflow.db').as_posix()}"


def setup(experiment: str | None = None) -> str:
    """Point MLflow at the project's store and experiment; returns the experiment id."""
    mlflow = _mlflow()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(tracking_uri())
    name = experiment or load_params().tracking.experiment
    exp = mlflow.set_experiment(name)
    _sqlite_wal(mlflow.get_tracking_uri())
    return exp.experiment_id


_WAL_DONE: set[str] = set()


def _sqlite_wal(uri: str) -> None:
    """Put a sqlite store in WAL mode once: parallel writers (trial logger, stages) stop blocking."""
    if not uri.startswith("sqlite:///") or uri in _WAL_DONE:
        return
    import sqlite3

    try:
        with contextlib.closing(sqlite3.connect(uri.removeprefix("sqlite:///"), timeout=30)) as con:
            con.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:  # a read-only or odd store still works without WAL
        log.debug("could not enable WAL on %s: %s", uri, exc)
    _WAL_DONE.add(uri)


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=project_root(), capture_output=True, text=True, timeout=20, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


def git_state() -> dict[str, Any]:
    """Commit, dirty flag and diff of the project's git tree (empty when not a repo)."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return {}
    status = _git("status", "--porcelain", "--untracked-files=no") or ""
    diff = _git("diff", "HEAD") if status.strip() else None
    return {"commit": commit.strip(), "dirty": bool(status.strip()), "diff": diff}


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
    setup(experiment)
    if kind not in KINDS:
        raise ValueError(f"unknown run kind {kind!r}")
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
        all_tags = {KIND: kind, **dep_tags(deps), **(tags or {})}
        git = git_state()
        if git:
            all_tags.update({"rftlab.git_commit": git["commit"], "rftlab.git_dirty": str(git["dirty"]).lower()})
            all_tags.setdefault("mlflow.source.git.commit", git["commit"])
            if git["diff"]:
                mlflow.log_text(git["diff"], "git/diff.patch")
        mlflow.set_tags(all_tags)
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
    flat = {k: ("" if v is None else str(v))[:6000] for k, v in flatten(params).items()}
    items = list(flat.items())
    for i in range(0, len(items), 100):
        mlflow.log_params(dict(items[i : i + 100]))


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    clean = {k: float(v) for k, v in metrics.items() if v is not None}
    if clean:
        _mlflow().log_metrics(clean, step=step)


def set_tags(tags: Mapping[str, Any]) -> None:
    _mlflow().set_tags({k: str(v) for k, v in tags.items()})


def log_artifact(path: str | os.PathLike, artifact_path: str | None = None) -> None:
    _mlflow().log_artifact(str(path), artifact_path=artifact_path)


def log_dict(obj: Any, artifact_file: str) -> None:
    _mlflow().log_dict(obj, artifact_file)


def log_text(text: str, artifact_file: str) -> None:
    _mlflow().log_text(text, artifact_file)


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
    _mlflow().log_input(dataset, context=context)
    return digest


def find_runs(tag: str, value: str, *, experiment: str | None = None) -> list[Any]:
    """Runs of the experiment whose `tag` equals `value`, newest first."""
    mlflow = _mlflow()
    exp_id = setup(experiment)
    safe = value.replace("'", "\\'")
    return mlflow.search_runs(
        experiment_ids=[exp_id],
        filter_string=f"tags.`{tag}` = '{safe}'",
        order_by=["attributes.start_time DESC"],
        output_format="list",
    )


def close_orphans(tag: str, value: str, status: str = "KILLED") -> int:
    """End runs left RUNNING by a killed process (found by tag); returns how many."""
    client = _mlflow().MlflowClient()
    n = 0
    for run in find_runs(tag, value):
        if run.info.status == "RUNNING":
            client.set_terminated(run.info.run_id, status=status)
            n += 1
    return n


def active_run_id() -> str | None:
    run = _mlflow().active_run()
    return run.info.run_id if run else None


# --------------------------------------------------------------------------- evaluation / compare helpers


def get_run(run_id: str) -> Any:
    """The MLflow run `run_id` in the project's store; InputError when it does not exist."""
    from mlflow.exceptions import MlflowException

    from rftlab.errors import InputError

    _mlflow().set_tracking_uri(tracking_uri())
    try:
        return _mlflow().MlflowClient().get_run(run_id)
    except MlflowException:
        raise InputError(f"MLflow run {run_id!r} not found in {tracking_uri()}") from None


@contextlib.contextmanager
def resume_run(run_id: str) -> Iterator[Any]:
    """Reopen an existing run to add metrics, tags and artifacts; its kind and status are kept.

    Unlike `stage_run`, a failure inside the block does not mark the run FAILED: the run
    records a finished job, and a failed follow-up (e.g. evaluation) must not rewrite that.
    """
    mlflow = _mlflow()
    run = get_run(run_id)
    if run.data.tags.get(KIND, "") not in KINDS:
        from rftlab.errors import InputError

        raise InputError(f"MLflow run {run_id} has no known {KIND} tag (got {run.data.tags.get(KIND)!r})")
    status = run.info.status if run.info.status != "RUNNING" else "FINISHED"
    mlflow.set_experiment(experiment_id=run.info.experiment_id)  # start_run refuses a mismatch
    outer = os.environ.pop("MLFLOW_RUN_ID", None)
    try:
        active = mlflow.start_run(run_id=run_id, nested=mlflow.active_run() is not None)
    finally:
        if outer is not None:
            os.environ["MLFLOW_RUN_ID"] = outer
    try:
        yield active
    finally:
        mlflow.end_run(status=status)


def metric_history(run_id: str, key: str) -> list[tuple[int, float]]:
    """(step, value) pairs of one metric of a run, in step order."""
    _mlflow().set_tracking_uri(tracking_uri())
    hist = _mlflow().MlflowClient().get_metric_history(run_id, key)
    return sorted((int(m.step), float(m.value)) for m in hist)


def download_artifact(run_id: str, artifact_path: str, dst: str | os.PathLike) -> Path | None:
    """Copy one artifact of a run into folder `dst`; None when the run has no such artifact."""
    from mlflow.exceptions import MlflowException

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    _mlflow().set_tracking_uri(tracking_uri())
    Path(dst).mkdir(parents=True, exist_ok=True)
    try:
        return Path(_mlflow().artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path, dst_path=str(dst)))
    except (MlflowException, OSError):
        return None


def log_child_run(
    parent_run_id: str,
    kind: str,
    *,
    run_name: str | None = None,
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    tags: Mapping[str, Any] | None = None,
    status: str = "FINISHED",
    parent: Any | None = None,
) -> str:
    """Record one finished child run under `parent_run_id` in a few store calls (no active run).

    For many small runs such as Optuna trials: unlike `stage_run` it neither reads git nor
    switches the active run, so the parent stays active. Pass `parent` (the parent's Run,
    fetched once) to save a store round-trip per child. Returns the child's run id.
    """
    import time

    from mlflow.entities import Metric, Param

    if kind not in KINDS:
        raise ValueError(f"unknown run kind {kind!r}")
    mlflow = _mlflow()
    mlflow.set_tracking_uri(tracking_uri())
    client = mlflow.MlflowClient()
    parent = parent if parent is not None else client.get_run(parent_run_id)
    all_tags = {KIND: kind, "mlflow.parentRunId": parent_run_id, **{k: str(v) for k, v in (tags or {}).items()}}
    for key in ("rftlab.git_commit", "mlflow.source.git.commit"):
        if key in parent.data.tags:
            all_tags.setdefault(key, parent.data.tags[key])
    run = client.create_run(parent.info.experiment_id, run_name=run_name, tags=all_tags)
    now = int(time.time() * 1000)
    flat = {k: ("" if v is None else str(v))[:6000] for k, v in flatten(params or {}).items()}
    client.log_batch(
        run.info.run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in (metrics or {}).items() if v is not None],
        params=[Param(k, v) for k, v in flat.items()],
    )
    client.set_terminated(run.info.run_id, status=status)
    return run.info.run_id


def runs_of_kind(kind: str, *, experiment: str | None = None) -> list[Any]:
    """Runs tagged `rftlab.kind = kind` in an existing experiment, newest first (never creates one)."""
    from rftlab.errors import InputError

    mlflow = _mlflow()
    mlflow.set_tracking_uri(tracking_uri())
    name = experiment or load_params().tracking.experiment
    exp = mlflow.MlflowClient().get_experiment_by_name(name)
    if exp is None:
        raise InputError(f"MLflow experiment {name!r} not found in {tracking_uri()}")
    return mlflow.search_runs(
        experiment_ids=[exp.experiment_id],
        filter_string=f"tags.`{KIND}` = '{kind}'",
        order_by=["attributes.start_time DESC"],
        output_format="list",
    )


def set_run_status(run_id: str, status: str) -> None:
    """Mark a closed run FINISHED/FAILED/KILLED (e.g. a synced Bedrock job that failed or was stopped)."""
    _mlflow().set_tracking_uri(tracking_uri())
    _mlflow().MlflowClient().set_terminated(run_id, status=status)


def model_version_by_alias(name: str, alias: str) -> Any | None:
    """The registered model version behind `alias` (None when the model or alias is absent)."""
    from mlflow.exceptions import MlflowException

    _mlflow().set_tracking_uri(tracking_uri())
    try:
        return _mlflow().MlflowClient().get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def set_model_version_tags(name: str, version: str, tags: Mapping[str, Any]) -> None:
    _mlflow().set_tracking_uri(tracking_uri())
    client = _mlflow().MlflowClient()
    for k, v in tags.items():
        client.set_model_version_tag(name, str(version), k, str(v))


# --- model registry (grader versions) -------------------------------------------------------


def log_pyfunc_model(
    *,
    name: str,
    predict: Any,
    load_context: Any,
    artifacts: Mapping[str, str],
    registered_model_name: str | None = None,
    input_example: Any = None,
    pip_requirements: list[str] | None = None,
) -> Any:
    """Log a pyfunc model built from two plain functions (so callers never import mlflow).

    `load_context(artifacts: dict[str, str]) -> state` runs once when the model loads;
    `predict(state, model_input) -> DataFrame` scores. Returns MLflow's ModelInfo.
    """
    mlflow = _mlflow()

    class _Model(mlflow.pyfunc.PythonModel):
        def load_context(self, context):  # noqa: ANN001
            self._state = load_context(dict(context.artifacts))

        def predict(self, context, model_input, params=None):  # noqa: ANN001
            return predict(self._state, model_input)

    return mlflow.pyfunc.log_model(
        name=name,
        python_model=_Model(),
        artifacts=dict(artifacts),
        registered_model_name=registered_model_name,
        input_example=input_example,
        pip_requirements=pip_requirements,
    )


def set_model_alias(model_name: str, alias: str, version: str) -> None:
    _mlflow().set_tracking_uri(tracking_uri())
    _mlflow().MlflowClient().set_registered_model_alias(model_name, alias, str(version))


def find_model_versions(model_name: str, tag: str, value: str) -> list[Any]:
    """Registered versions of `model_name` whose tag equals value (e.g. a grader version)."""
    mlflow = _mlflow()
    mlflow.set_tracking_uri(tracking_uri())
    safe = value.replace("'", "\\'")
    try:
        return list(mlflow.MlflowClient().search_model_versions(
            f"name = '{model_name}' and tags.`{tag}` = '{safe}'"))
    except mlflow.exceptions.MlflowException:
        return []


def load_pyfunc(model_uri: str) -> Any:
    return _mlflow().pyfunc.load_model(model_uri)
