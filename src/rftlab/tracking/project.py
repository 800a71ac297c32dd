"""MLproject glue: entry points that override params.yaml, and the check of a `mlflow run` pipeline.

`mlflow run . -e calibrate -P trials=20` runs `python -m rftlab.tracking.project exp calibrate
calibrate.trials=20 ...`, which becomes `dvc exp run calibrate -S calibrate.trials=20`: params.yaml
stays the one place settings live, DVC reproduces what the stage needs, and the experiment
records the values. A parameter left at its default `keep` leaves params.yaml's value alone (an
MLproject default cannot say "whatever params.yaml holds"). The values are typed by params.yaml's
own validation: `-P trials=abc` fails naming `calibrate.trials`.

`python -m rftlab.tracking.project check-runs` checks, after `mlflow run . -e main`, that the
newest project run finished and holds one finished child run per pipeline stage that logs one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from rftlab import contracts
from rftlab.config import load_params
from rftlab.errors import ConfigError, InputError
from rftlab.tracking.store import tracking_uri

KEEP = "keep"
# The stage runs `dvc repro` logs under the project run (the evaluate stage's `evaluation` run is nested
# under the rft-job run it evaluates, which carries the latest evaluation's headline eval/* numbers).
PIPELINE_KINDS = ("ingest", "profile", "calibration", contracts.GRADER_CHECK, "prompts", contracts.BASE_MODEL, "preflight", contracts.RFT_JOB)
EVAL_METRIC = contracts.EVAL_TUNED_MEAN


def overrides(assignments: Sequence[str]) -> list[str]:
    """`section.key=value` pairs -> `-S section.key=value` arguments, without the ones left at `keep`."""
    args: list[str] = []
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key or "." not in key:
            raise ConfigError(f"MLproject parameter {item!r}: expected section.key=value")
        if value != KEEP:
            args += ["-S", f"{key}={value}"]
    return args


def exp_run_command(target: str | None, assignments: Sequence[str]) -> list[str]:
    """The `dvc exp run` command for one stage (None: the whole pipeline) with its overrides."""
    return ["dvc", "exp", "run", *([target] if target else []), *overrides(assignments)]


def pipeline_report(experiment: str, entry_point: str = "main") -> dict[str, Any]:
    """The newest `mlflow run` of `entry_point` in `experiment` and its children, per kind and status."""
    # mlflow loads on first use: commands that never track stay fast
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise InputError(f"MLflow experiment {experiment!r} not found in {tracking_uri()}")
    projects = client.search_runs([exp.experiment_id],
                                  f"tags.`mlflow.project.entryPoint` = '{entry_point}'",
                                  order_by=["attributes.start_time DESC"], max_results=1)
    if not projects:
        raise InputError(f"no `mlflow run -e {entry_point}` run in experiment {experiment!r}")
    project = projects[0]
    children = client.search_runs([exp.experiment_id], f"tags.`mlflow.parentRunId` = '{project.info.run_id}'",
                                  max_results=1000)
    kinds: dict[str, list[dict[str, Any]]] = {}
    for run in children:
        kinds.setdefault(run.data.tags.get(contracts.KIND, "?"), []).append(
            {"run_id": run.info.run_id, "status": run.info.status, "metrics": dict(run.data.metrics)})
    return {"run_id": project.info.run_id, "status": project.info.status, "kinds": kinds}


def check_pipeline(report: dict[str, Any], expected: Sequence[str] = PIPELINE_KINDS) -> list[str]:
    """What is wrong with a pipeline report: missing or unfinished stage runs, no evaluation (empty = fine)."""
    problems = []
    if report["status"] != "FINISHED":
        problems.append(f"project run {report['run_id']} is {report['status']}")
    for kind in expected:
        runs = report["kinds"].get(kind, [])
        if not runs:
            problems.append(f"no {kind} run under project run {report['run_id']}")
        problems += [f"{kind} run {r['run_id']} is {r['status']}" for r in runs if r["status"] != "FINISHED"]
    if contracts.RFT_JOB in expected and not any(EVAL_METRIC in r["metrics"] for r in report["kinds"].get(contracts.RFT_JOB, [])):
        problems.append(f"no rft-job run carries the evaluation ({EVAL_METRIC})")
    return problems


def main(argv: Sequence[str]) -> int:
    if argv and argv[0] == "exp" and len(argv) >= 2:
        target = None if argv[1] == "all" else argv[1]
        cmd = exp_run_command(target, argv[2:])
        print("+ " + " ".join(cmd), flush=True)
        os.execvp(cmd[0], cmd)
    if argv and argv[0] == "check-runs":
        experiment = argv[1] if len(argv) > 1 else load_params().tracking.experiment
        report = pipeline_report(experiment)
        problems = check_pipeline(report)
        for kind, runs in sorted(report["kinds"].items()):
            print(f"{kind}: " + ", ".join(r["status"] for r in runs))
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return 1
        print(f"project run {report['run_id']}: every stage run finished")
        return 0
    print("usage: python -m rftlab.tracking.project exp STAGE|all [section.key=value|keep ...] | check-runs [EXPERIMENT]",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (ConfigError, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
