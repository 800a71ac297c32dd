"""What an evaluation writes to MLflow: its own run nested under the job's run, and a pointer.

Re-evaluating replaces the evaluation rather than appending to it: each `rftlab evaluate` is a
new run of kind `evaluation` under the job's run (explicit parent), holding the numbers, the
settings (params), the side-by-side table, the samples and the plots; the evaluation before it is
tagged `rftlab.superseded_by`. The job run is never reopened (its status and end time stay the
job's): it gets the tag `rftlab.evaluation_run_id` (the latest evaluation) and the headline
`eval/*` numbers at step n for its n-th evaluation (0, 1, ...), so one row per job in the runs
table and in `rftlab compare` shows the latest evaluation. The job's run is found by
`rftlab.job_id` in the current store, or recorded from the job record (rftlab.jobs.lineage).
"""

from __future__ import annotations

from typing import Any

from rftlab import contracts, tracking
from rftlab.errors import InputError
from rftlab.jobs.lineage import CURVES, find_job_run, job_run_id

EVALUATED = "rftlab.evaluated"
EVALUATION_RUN = "rftlab.evaluation_run_id"  # on the job run: its latest evaluation
SUPERSEDED = "rftlab.superseded_by"          # on an older evaluation run: the one that replaced it
HEADLINE = (contracts.EVAL_BASE_MEAN, contracts.EVAL_TUNED_MEAN, contracts.EVAL_UPLIFT_PCT, "eval/uplift_ci_low", "eval/uplift_ci_high",
            contracts.EVAL_WIN_RATE, "eval/inference_cost_usd", "eval/prompts")


def reward_curves(job: dict, job_path: Any = "data/rft/job.json") -> dict[str, list[tuple[int, float]]]:
    """The job's reward curves from its record; a record without curves (older rftlab) reads them from
    the job's run, and when this store has no such run says which command rewrites the record."""

    curves = job.get("curves")
    if isinstance(curves, dict):
        return {k: [(int(s), float(v)) for s, v in curves.get(k, [])] for k in CURVES}
    run = find_job_run(job["job_id"])
    if run is None:
        raise InputError(f"{job_path}: job {job['job_id']} has no run in MLflow store {tracking.tracking_uri()} and "
                         "the record (from an older rftlab) holds no step curves; rewrite it with `dvc repro -f rft`")
    return {k: tracking.metric_history(run.info.run_id, k) for k in CURVES}


def log_evaluation(job: dict, job_path: Any, result: dict, eval_params: dict, *, grader: Any, judge: Any,
                   table: dict, graded: dict, figures: dict[str, Any]) -> str:
    """One evaluation run nested under the job's run; the job run points at it. Returns its id."""

    job_run = job_run_id(job, job_path)
    earlier = tracking.child_runs(job_run, "evaluation")
    tags = {contracts.JOB_ID: job["job_id"], contracts.BACKEND: job["backend"],
            "rftlab.eval.val_md5": eval_params["val_md5"], "rftlab.eval.grader_version": getattr(grader, "version", ""),
            "rftlab.eval.judge": str(judge is not None).lower()}
    if job.get("grader_version"):
        tags[contracts.GRADER_VERSION] = job["grader_version"]
    with tracking.stage_run("evaluation", run_name=f"eval {job['job_id']}", parent_run_id=job_run, tags=tags,
                            params=eval_params, deps={"val": eval_params["val_path"], "job": job_path}) as run:
        tracking.log_metrics({k: v for k, v in result.items() if v is not None})
        tracking.log_table(table, "evaluate/side_by_side.json")
        tracking.log_dict({"base": graded["base"], "tuned": graded["tuned"]}, "evaluate/samples.json")
        for name, fig in figures.items():
            tracking.log_figure(fig, f"evaluate/{name}.png")
        run_id = run.info.run_id
    for old in earlier:
        tracking.tag_run(old.info.run_id, {SUPERSEDED: run_id})
    shown = tracking.metric_history(job_run, contracts.EVAL_TUNED_MEAN)  # the job's evaluations so far, one step each
    tracking.log_metrics_to(job_run, {k: result.get(k) for k in HEADLINE}, step=shown[-1][0] + 1 if shown else 0)
    tracking.tag_run(job_run, {EVALUATED: "true", EVALUATION_RUN: run_id, **{k: v for k, v in tags.items()
                                                                             if k.startswith("rftlab.eval.")}})
    return run_id
