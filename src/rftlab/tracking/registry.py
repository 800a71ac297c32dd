"""The model registry: grader versions as pyfunc models, tags and the `champion` alias."""

from collections.abc import Mapping
from typing import Any

from rftlab.tracking.runs import _mlflow
from rftlab.tracking.store import open_store


def model_version_by_alias(name: str, alias: str) -> Any | None:
    """The registered model version behind `alias` (None when the model or alias is absent)."""
    from mlflow.exceptions import MlflowException

    open_store()
    try:
        return _mlflow().MlflowClient().get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def set_model_version_tags(name: str, version: str, tags: Mapping[str, Any]) -> None:
    open_store()
    client = _mlflow().MlflowClient()
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
    import pandas as pd

    mlflow = _mlflow()

    class _Model(mlflow.pyfunc.PythonModel):
        def load_context(self, context):  # noqa: ANN001
            self._state = load_context(dict(context.artifacts))

        # Real (not stringified) hints: MLflow reads them when the class is made.
        def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # noqa: ANN001
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
    open_store()
    _mlflow().MlflowClient().set_registered_model_alias(model_name, alias, str(version))


def find_model_versions(model_name: str, tag: str, value: str) -> list[Any]:
    """Registered versions of `model_name` whose tag equals value (e.g. a grader version)."""
    mlflow = _mlflow()
    open_store()
    safe = value.replace("'", "\\'")
    try:
        return list(mlflow.MlflowClient().search_model_versions(
            f"name = '{model_name}' and tags.`{tag}` = '{safe}'"))
    except mlflow.exceptions.MlflowException:
        return []


def load_pyfunc(model_uri: str) -> Any:
    return _mlflow().pyfunc.load_model(model_uri)
