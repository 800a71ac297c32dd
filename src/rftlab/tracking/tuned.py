"""Each RFT job's tuned model as an MLflow model, registered as `rftlab-style`.

A job's output becomes a LoggedModel whose source run is the job's run (the runs table's Models
column and the experiment's Models tab show it), and a version of the registered model
`rftlab-style` tagged with the job id, grader version, base model and backend:
- local backend: a pyfunc "model from code" (tuned_chat_model.py) holding the Hugging Face folder,
  so `mlflow.pyfunc.load_model("models:/rftlab-style@best").predict(["..."])` replies;
- Bedrock and open-weight backends: no weights leave AWS; the model carries the custom model ARN
  (`rftlab.custom_model_arn`, or `rftlab.fine_tuned_model`) and, once the deploy stage ran, the
  deployment ARN (`rftlab.deployment_arn`) as metadata.
After an evaluation the version gets `rftlab.eval.uplift_pct` / `rftlab.eval.win_rate`, and the
alias `best` moves to the evaluated version with the highest uplift. One version per job: logging
a job again (a rerun of the rft stage) changes nothing.
"""

from __future__ import annotations

import logging
import math
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rftlab import contracts
from rftlab.tracking.registry import find_model_versions
from rftlab.tracking.runs import setup
from rftlab.tracking.store import tracking_uri

log = logging.getLogger(__name__)

REGISTERED = "rftlab-style"
BEST = "best"
JOB_TAG = contracts.JOB_ID
UPLIFT_TAG, WIN_TAG = "rftlab.eval.uplift_pct", "rftlab.eval.win_rate"
CODE = Path(__file__).with_name("tuned_chat_model.py")
DESCRIPTION = ("Chat models tuned toward one person's writing style by rftlab, one version per RFT job "
               "(tags: rftlab.job_id, rftlab.grader_version, rftlab.base_model, rftlab.backend). "
               "Alias `best`: the evaluated version with the highest uplift (rftlab.eval.uplift_pct).")


def model_tags(record: Mapping[str, Any], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Tags of a job's model and model version, from its job record (data/rft/job.json) and what its
    backend adds (`extra`, e.g. a remote model's ARN: the plugin's model_tags; pure)."""
    tags = {JOB_TAG: record["job_id"], contracts.BACKEND: record.get("backend"),
            contracts.GRADER_VERSION: record.get("grader_version"), "rftlab.base_model": record.get("base_model"),
            contracts.SPEC_HASH: record.get("spec_hash"), **(extra or {})}
    return {k: str(v) for k, v in tags.items() if v not in (None, "")}


def _client() -> Any:
    # mlflow loads on first use: commands that never track stay fast
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    return mlflow.MlflowClient()


def version_of(job_id: str) -> Any | None:
    """The registered version of a job's model (None when the job has none)."""

    found = find_model_versions(REGISTERED, JOB_TAG, job_id)
    return max(found, key=lambda v: int(v.version)) if found else None


def _save_local(model_dir: Path, dst: Path) -> None:
    # mlflow loads on first use: commands that never track stay fast
    import mlflow
    import torch
    import transformers
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    signature = ModelSignature(inputs=Schema([ColSpec("string")]), outputs=Schema([ColSpec("string")]),
                               params=ParamSchema([ParamSpec("max_new_tokens", "long", 32),
                                                   ParamSpec("temperature", "double", 1.0),
                                                   ParamSpec("seed", "long", 0)]))
    with warnings.catch_warnings():  # advice about type hints and input examples: the signature is explicit
        warnings.simplefilter("ignore", UserWarning)
        mlflow.pyfunc.save_model(path=str(dst), python_model=str(CODE), artifacts={"model": str(model_dir)},
                                 signature=signature, pip_requirements=[f"torch=={torch.__version__.split('+')[0]}",
                                                                        f"transformers=={transformers.__version__}"])


def log_tuned_model(record: Mapping[str, Any], *, run_id: str | None, model_dir: str | Path | None = None,
                    tags: Mapping[str, str] | None = None) -> Any:
    """Log and register the job's model (once per job); returns its model version. `model_dir`: the
    weights, when the job left them on this machine (logged as a pyfunc chat model); `tags`: what the
    backend adds to the model's tags."""
    existing = version_of(record["job_id"])
    if existing is not None:
        return existing
    client = _client()

    exp_id = setup()
    extra = tags
    tags = model_tags(record, extra)
    local = model_dir is not None and Path(model_dir).is_dir()
    params = {f"hp.{k}": str(v) for k, v in (record.get("hyperparameters") or {}).items() if v is not None}
    model = client.create_logged_model(exp_id, name=str(record["job_id"]).rsplit("/", 1)[-1][:200], source_run_id=run_id,
                                       tags=tags, params=params,
                                       model_type="pyfunc chat model" if local else f"{record.get('backend')} model")
    try:
        if local:
            with tempfile.TemporaryDirectory() as tmp:
                _save_local(Path(model_dir), Path(tmp) / "model")
                client.log_model_artifacts(model.model_id, str(Path(tmp) / "model"))
        client.finalize_logged_model(model.model_id, "READY")
    except Exception:
        client.finalize_logged_model(model.model_id, "FAILED")
        raise
    # mlflow loads on first use: commands that never track stay fast
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(REGISTERED)
    except MlflowException:
        try:
            client.create_registered_model(REGISTERED, description=DESCRIPTION)
        except MlflowException:  # a concurrent first registration
            pass
    return client.create_model_version(REGISTERED, source=f"models:/{model.model_id}", run_id=run_id, tags=tags,
                                       model_id=model.model_id)


def _tag(job_id: str, tags: Mapping[str, Any]) -> Any | None:
    version = version_of(job_id)
    if version is None:
        return None
    client = _client()
    clean = {k: str(v) for k, v in tags.items() if v is not None}
    for k, v in clean.items():
        client.set_model_version_tag(REGISTERED, version.version, k, v)
    model_id = logged_model_id(version)
    if model_id:
        client.set_logged_model_tags(model_id, clean)
    return version


def logged_model_id(version: Any) -> str | None:
    """The LoggedModel behind a registered version (its `model_id`, else its `models:/<id>` source)."""
    source = str(getattr(version, "source", "") or "")
    return getattr(version, "model_id", None) or (source.removeprefix("models:/") if source.startswith("models:/")
                                                  else None)


def record_deployment(job_id: str, deployment_arn: str) -> None:
    """The deploy stage's custom model deployment, as metadata of the job's model."""
    _tag(job_id, {"rftlab.deployment_arn": deployment_arn})


def record_evaluation(job_id: str, metrics: Mapping[str, Any]) -> str | None:
    """Tag the job's version with its evaluation; move `best` to the highest uplift. Returns the best version."""
    version = _tag(job_id, {UPLIFT_TAG: metrics.get(contracts.EVAL_UPLIFT_PCT), WIN_TAG: metrics.get(contracts.EVAL_WIN_RATE)})
    if version is None:
        return None
    client = _client()
    scored = []
    for v in client.search_model_versions(f"name = '{REGISTERED}'"):
        try:
            uplift = float(v.tags[UPLIFT_TAG])
        except (KeyError, ValueError):
            continue
        if math.isfinite(uplift):
            scored.append((uplift, int(v.version)))
    if not scored:
        return None
    best = str(max(scored)[1])
    client.set_registered_model_alias(REGISTERED, BEST, best)
    return best
