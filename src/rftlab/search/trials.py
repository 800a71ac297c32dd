"""One trial = one RFT job: launch it through the job layer, follow it, prune it, tell its value.

Launch writes the trial's spec hash and estimate into the study BEFORE the job is submitted,
so a worker killed at any point leaves a trial whose job can be found again by its spec hash
(local state store) or its clientRequestToken (Bedrock): a job is never launched twice.
A job that nothing else trains (a local one: its plugin's `needs_follower`) trains in a child
process (`python -m rftlab job wait <spec>`), a remote job trains on its service; either way this process polls status and step metrics, reports the validation reward
curve to Optuna and stops a job the pruner gives up on (local: a stop request the trainer
honours at the next step; Bedrock: StopModelCustomizationJob).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rftlab import contracts, plugins
from rftlab.jobs.spec import JobSpec, build_spec
from rftlab.jobs.state import JobState
from rftlab.search import ledger, space
from rftlab.search.report import tag_job_run

log = logging.getLogger(__name__)

VAL = contracts.VAL_REWARD_MEAN


@dataclass
class Context:
    """What every trial of this invocation shares."""

    params: Any                  # the whole validated params.yaml
    backend: str                 # the backend's name (rftlab.plugins)
    inputs: dict[str, str]       # train, val, grader (and base_model for local)
    study: Any
    search_run_id: str | None
    log_dir: Path
    echo: Any = print
    followers: dict[int, subprocess.Popen] = field(default_factory=dict)
    study_key: str | None = None  # the study's identity in records (rftlab.studies.urls.study_key)

    @property
    def cfg(self) -> Any:
        return self.params.search


# ---------------------------------------------------------------------------- building a job
def rft_for(ctx: Context, hp: dict[str, Any]) -> Any:
    """The `rft` section for this trial: its backend, with the trial's hyperparameters."""
    rft = ctx.params.rft
    section = rft.section(ctx.backend)
    hps = section.hyperparameters.model_copy(update=hp)
    trial = rft.with_section(ctx.backend, section.model_copy(update={"hyperparameters": hps}))
    return trial.model_copy(update={"backend": ctx.backend})


def spec_for(ctx: Context, trial_params: dict[str, Any]) -> JobSpec:
    base = ctx.params.rft.section(ctx.backend).hyperparameters.model_dump()
    rft = rft_for(ctx, space.hyperparameters(base, trial_params))
    return build_spec(rft, train=ctx.inputs["train"], val=ctx.inputs.get("val"), grader=ctx.inputs["grader"],
                      base_model=ctx.inputs.get("base_model"))


def backend_for(ctx: Context, spec: JobSpec) -> Any:
    return plugins.backend(ctx.backend).create(rft_for(ctx, spec.hyperparameters))


def estimate_usd(ctx: Context, spec: JobSpec, finished: list[Any]) -> float:
    """Pre-launch cost ESTIMATE from the backend (a remote service's from the prompts and
    hyperparameters; a local job's from its hourly rate and the finished trials' durations)."""
    durations = [float(t.user_attrs.get(contracts.DURATION_MIN) or 0.0) for t in finished]
    return plugins.backend(ctx.backend).trial_estimate_usd(spec, ctx.params.rft, durations)


# ---------------------------------------------------------------------------- launch
def launch(ctx: Context, trial: Any, finished: list[Any]) -> JobState:
    """Record the trial's job, check the budget, submit; raises BudgetExhausted before any side effect."""
    spec = spec_for(ctx, trial.params)
    est = estimate_usd(ctx, spec, finished)
    ledger.check(ledger.ledger(ctx.study.get_trials(deepcopy=False)), est, ctx.cfg.budget_usd)
    trial.set_user_attr("spec_hash", spec.spec_hash())
    trial.set_user_attr("spec", spec.model_dump(mode="json"))
    trial.set_user_attr("estimate_usd", est)
    trial.set_user_attr("backend", ctx.backend)
    ctx.echo(f"trial {trial.number}: {space.describe(trial.params)} (estimate ${est:,.2f})")
    return submit(ctx, trial.number, spec)


def submit(ctx: Context, number: int, spec: JobSpec) -> JobState:
    """Submit through the job layer (idempotent by spec hash / clientRequestToken)."""
    backend = backend_for(ctx, spec)
    with _parent_run(ctx):
        state = backend.submit(spec)
    if plugins.backend(ctx.backend).needs_follower(backend, state):
        spawn(ctx, number, state)
    return state


class _parent_run:
    """Job runs created in this process become children of the search run (tracking.stage_run
    takes MLFLOW_RUN_ID as the parent, as under `mlflow run`)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx, self.old = ctx, None

    def __enter__(self) -> None:
        self.old = os.environ.get("MLFLOW_RUN_ID")
        if self.ctx.search_run_id:
            os.environ["MLFLOW_RUN_ID"] = self.ctx.search_run_id

    def __exit__(self, *exc: Any) -> None:
        if self.old is None:
            os.environ.pop("MLFLOW_RUN_ID", None)
        else:
            os.environ["MLFLOW_RUN_ID"] = self.old


def spawn(ctx: Context, number: int, state: JobState) -> None:
    """Train (or resume) a local job in a child process of this worker."""
    proc = ctx.followers.get(number)
    if proc is not None and proc.poll() is None:
        return
    env = {**os.environ}
    if ctx.search_run_id:
        env["MLFLOW_RUN_ID"] = ctx.search_run_id
    ctx.log_dir.mkdir(parents=True, exist_ok=True)
    out = open(ctx.log_dir / f"trial-{number:04d}.log", "ab")  # noqa: SIM115 - owned by the child
    ctx.followers[number] = subprocess.Popen(
        [sys.executable, "-m", "rftlab", "job", "wait", state.spec_hash, "--quiet"],
        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    out.close()


# ---------------------------------------------------------------------------- follow
def follow(ctx: Context, frozen: Any) -> bool:
    """One look at a running trial's job: report, prune, tell when it ended. True when told."""
    # optuna loads only when a study is opened
    import optuna

    attrs = frozen.user_attrs
    if "spec" not in attrs:  # asked but never launched (its worker died in between): nothing ran
        ctx.study.tell(frozen.number, state=optuna.trial.TrialState.FAIL)
        ctx.echo(f"trial {frozen.number}: never launched (its worker stopped); not counted")
        return True
    spec = JobSpec.model_validate(attrs["spec"])
    backend = backend_for(ctx, spec)
    state = backend.store.load(spec.spec_hash())
    if state is None:
        state = submit(ctx, frozen.number, spec)
    with _parent_run(ctx):
        state = backend.poll(state) if hasattr(backend, "poll") else backend.status(state)
    if plugins.backend(ctx.backend).needs_follower(backend, state):
        spawn(ctx, frozen.number, state)
    trial = optuna.trial.Trial(ctx.study, frozen._trial_id)
    curve = [(s, m[VAL]) for s, m in backend.metrics(state) if VAL in m]
    reported = set(frozen.intermediate_values)
    for step, value in curve:
        if step not in reported:
            trial.report(float(value), int(step))
    if not state.done and curve and not attrs.get("prune_requested") and trial.should_prune():
        why = f"pruned at step {curve[-1][0]}: validation reward {curve[-1][1]:.4f} ({ctx.cfg.pruner} pruner)"
        trial.set_user_attr("prune_requested", why)
        ctx.echo(f"trial {frozen.number}: {why}; stopping {state.job_id}")
        with _parent_run(ctx):
            state = backend.stop(state)
    if not state.done:
        return False
    tell(ctx, frozen, trial, backend, state, curve)
    return True


def objective(cfg: Any, curve: list[tuple[int, float]], cost_usd: float) -> float | None:
    """The trial's value from its validation reward curve (docs/search.md)."""
    if not curve:
        return None
    final = float(curve[-1][1])
    if cfg.objective == "val_reward":
        return final
    if cfg.objective == "val_reward_minus_cost":
        return final - cfg.cost_weight * cost_usd
    base = float(curve[0][1]) if curve[0][0] == 0 else None
    if base is None:
        return None
    return (final - base) / max(cost_usd, 0.01)


def tell(ctx: Context, frozen: Any, trial: Any, backend: Any, state: JobState,
         curve: list[tuple[int, float]]) -> None:
    # optuna loads only when a study is opened
    import optuna

    TS = optuna.trial.TrialState
    cost_usd = float(backend.cost(state) or 0.0)
    steps = int(state.details.get("step") or (curve[-1][0] if curve else 0))
    for key, value in (("job_id", state.job_id), ("run_id", state.run_id), ("status", state.status),
                       (contracts.COST_USD, cost_usd), (contracts.DURATION_MIN, float(state.duration_min or 0.0)), ("steps", steps)):
        trial.set_user_attr(key, value)
    value = objective(ctx.cfg, curve, cost_usd)
    pruned = frozen.user_attrs.get("prune_requested")
    if state.status == "Completed" and value is not None:
        ctx.study.tell(frozen.number, value)
        ctx.echo(f"trial {frozen.number}: {ctx.cfg.objective} {value:.4f} (job {state.job_id}, ${cost_usd:,.2f})")
        outcome = "COMPLETE"
    elif state.status in ("Stopped", "Completed") and pruned:
        ctx.study.tell(frozen.number, state=TS.PRUNED)
        outcome = "PRUNED"
    else:
        ctx.study.tell(frozen.number, state=TS.FAIL)
        ctx.echo(f"trial {frozen.number}: job {state.job_id} ended {state.status}"
                 f"{': ' + state.failure_message if state.failure_message else ''}; not counted")
        outcome = "FAIL"

    tag_job_run(ctx, frozen.number, state, outcome, pruned)
