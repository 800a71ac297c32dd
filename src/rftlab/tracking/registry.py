"""The model registry: grader versions as pyfunc models, tags and the `champion` alias.

A registered version carries `rftlab.content_md5`, the digest of the artifacts it was logged
from; registering identical artifacts again returns that version instead of a second one. The
look-up and the registration happen under one file lock (beside a sqlite store, else in
.rftlab/locks/), so two processes registering the same bundle at once still get one version.
"""

import contextlib
import hashlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from rftlab.config import project_root
from rftlab.io import path_md5
from rftlab.locks import file_lock
from rftlab.tracking.store import mlflow_api, open_store, sqlite_path

CONTENT = "rftlab.content_md5"


def model_version_by_alias(name: str, alias: str) -> Any | None:
    """The registered model version behind `alias` (None when the model or alias is absent)."""
    # mlflow loads on first use: commands that never track stay fast
    from mlflow.exceptions import MlflowException

    open_store()
    try:
        return mlflow_api().MlflowClient().get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def set_model_version_tags(name: str, version: str, tags: Mapping[str, Any]) -> None:
    open_store()
    client = mlflow_api().MlflowClient()
    for k, v in tags.items():
        client.set_model_version_tag(name, str(version), k, str(v))


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
    # pandas loads only for tables
    import pandas as pd

    mlflow = mlflow_api()

    class _Model(mlflow.pyfunc.PythonModel):
        def load_context(self, context):  # noqa: ANN001
            self._state = load_context(dict(context.artifacts))

        # Real (not stringified) hints: MLflow reads them when the class is made.
        def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # noqa: ANN001
            return predict(self._state, model_input)

    def _log() -> Any:
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=_Model(),
            artifacts=dict(artifacts),
            registered_model_name=registered_model_name,
            input_example=input_example,
            pip_requirements=pip_requirements,
        )

    if registered_model_name is None:
        return _log()
    digest = content_md5(artifacts)
    with registry_lock():
        same = find_model_versions(registered_model_name, CONTENT, digest)
        if same:  # these exact artifacts are registered already: no second version
            v = min(same, key=lambda mv: int(mv.version))
            return SimpleNamespace(registered_model_version=str(v.version), model_uri=v.source, reused=True)
        info = _log()
        set_model_version_tags(registered_model_name, str(info.registered_model_version), {CONTENT: digest})
        return info


def content_md5(artifacts: Mapping[str, str]) -> str:
    """One digest over named artifact files/folders (DVC's MD5 of each)."""

    blob = "\n".join(f"{k}={path_md5(Path(v))}" for k, v in sorted(artifacts.items()))
    return hashlib.md5(blob.encode("utf-8")).hexdigest()


@contextlib.contextmanager
def registry_lock() -> Iterator[None]:
    """Serialise look-up-then-register between processes (beside a sqlite store, else per project)."""

    db = sqlite_path(open_store())
    path = db.with_name(db.name + "-registry-lock") if db else project_root() / ".rftlab" / "locks" / "registry.lock"
    with file_lock(path, timeout=float(os.environ.get("RFTLAB_LOCK_TIMEOUT", "600"))):
        yield


def set_model_alias(model_name: str, alias: str, version: str) -> None:
    open_store()
    mlflow_api().MlflowClient().set_registered_model_alias(model_name, alias, str(version))


def find_model_versions(model_name: str, tag: str, value: str) -> list[Any]:
    """Registered versions of `model_name` whose tag equals value (e.g. a grader version)."""
    mlflow = mlflow_api()
    open_store()
    safe = value.replace("'", "\\'")
    try:
        return list(mlflow.MlflowClient().search_model_versions(
            f"name = '{model_name}' and tags.`{tag}` = '{safe}'"))
    except mlflow.exceptions.MlflowException:
        return []


def load_pyfunc(model_uri: str) -> Any:
    return mlflow_api().pyfunc.load_model(model_uri)
