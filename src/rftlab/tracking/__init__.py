"""The only package that talks to MLflow.

Every stage opens one run through `stage_run`: the experiment comes from params, the run
kind goes into the `rftlab.kind` tag, and the run records the git commit (plus the diff
when the tree is dirty) and the DVC digests of its inputs. A run that raises ends
FAILED (KILLED on Ctrl-C); a run left RUNNING by a killed process (SIGKILL) is ended KILLED
by the next stage that opens a run once that process is gone (`close_orphans`).
Callers use `from rftlab import tracking` and the names below; mlflow itself is imported
lazily, so commands that never track stay fast.
"""

import os  # noqa: I001 - the variable must be set before anything imports mlflow

# Nothing leaves the machine unasked: MLflow 3 sends usage telemetry unless told not to
# (MLFLOW_DISABLE_TELEMETRY); rftlab's processes set it off unless the user set it themselves.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from rftlab.tracking.experiment import setup
from rftlab.tracking.queries import (
    child_runs,
    download_artifact,
    get_run,
    log_child_run,
    log_metrics_to,
    metric_history,
    metric_points,
    resume_run,
    run_exists,
    runs_of_kind,
    set_run_status,
    tag_run,
)
from rftlab.tracking.registry import (
    find_model_versions,
    load_pyfunc,
    log_pyfunc_model,
    model_version_by_alias,
    registry_lock,
    set_model_alias,
    set_model_version_tags,
)
from rftlab.tracking.runs import (
    active_run_id,
    close_orphans,
    dep_tags,
    find_runs,
    flatten,
    git_state,
    log_artifact,
    log_dict,
    log_figure,
    log_input_file,
    log_metrics,
    log_params,
    log_table,
    log_text,
    orphaned,
    process_tags,
    set_tags,
    stage_run,
)
from rftlab.tracking.store import mlflow_api, tracking_uri
from rftlab.tracking.traces import (
    FeedbackRecord,
    TraceRecord,
    delete_traces,
    ensure_feedback_schema,
    feedbacks,
    load_json_artifact,
    log_dict_to,
    log_text_to,
    log_traces,
    record_feedback,
    run_traces,
)

__all__ = [
    "mlflow_api", "active_run_id", "child_runs", "close_orphans",
    "dep_tags", "download_artifact", "find_model_versions", "find_runs", "flatten", "get_run", "git_state",
    "load_pyfunc", "log_artifact", "log_child_run", "log_dict", "log_figure", "log_input_file", "log_metrics",
    "log_metrics_to", "log_params", "log_pyfunc_model", "log_table", "log_text", "metric_history", "metric_points",
    "model_version_by_alias", "registry_lock", "orphaned", "process_tags", "resume_run", "run_exists", "runs_of_kind",
    "set_model_alias", "set_model_version_tags", "set_run_status", "set_tags", "setup", "stage_run", "tag_run",
    "tracking_uri", "FeedbackRecord", "TraceRecord", "delete_traces", "ensure_feedback_schema", "feedbacks",
    "load_json_artifact", "log_dict_to", "log_text_to", "log_traces", "record_feedback", "run_traces",
]
