"""`rftlab search`: ask -> job spec -> launch -> follow -> tell, across invocations and workers.

Safe to interrupt at any point and to run several at once on one RDB storage:
- a trial's spec hash is stored before its job is submitted, and the job layer finds a job
  again by spec hash, so no job is launched twice (docs/search.md);
- asking and launching happen under the study's `launch` lease, where `max_concurrent`,
  the target size and `budget_usd` are checked against what every worker has done;
- each running trial is followed by one worker at a time (its `trial-N` lease); a worker that
  died leaves its trials to the next one, which resumes following them (local jobs resume
  training from their last checkpoint).
The study ends with exactly `trials` finished trials (complete + pruned); failed jobs and
trials that never launched are not counted and are replaced.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from rftlab import plugins
from rftlab.errors import ConfigError, RftlabError
from rftlab.io import path_md5
from rftlab.search import ledger, report, space
from rftlab.search import study as search_study
from rftlab.search.study import make_sampler
from rftlab.search.trials import Context, follow, launch
from rftlab.studies.leases import Leases, worker_id
from rftlab.studies.study import stored_trial
from rftlab.studies.urls import redact, study_key

log = logging.getLogger(__name__)

DONE = ("COMPLETE", "PRUNED")


def _inputs(backend: str, train: str, val: str | None, grader: str, base_model: str | None) -> dict[str, str]:
    out = {"train": train, "grader": grader}
    if val:
        out["val"] = val
    default = plugins.backend(backend).default_base_model()  # a pipeline output the job trains from
    if default:
        out["base_model"] = base_model or default
    for name, path in out.items():
        if not Path(path).exists():
            raise ConfigError(f"{path}: {name} input of the search not found (run `dvc repro check` first)")
    return out


def run_search(params: Any, *, train: str, val: str | None, grader: str, base_model: str | None = None,
               trials: int | None = None, out_dir: str | Path = "reports/search", echo: Any = print,
               max_polls: int | None = None) -> dict[str, Any]:
    """Drive the study to `trials` finished trials; returns the headline figures."""
    cfg = params.search
    if trials is not None:
        cfg = cfg.model_copy(update={"trials": trials})
        params = params.model_copy(update={"search": cfg})
    backend = cfg.backend or params.rft.backend
    plugin = plugins.backend(backend, key="search.backend" if cfg.backend else "rft.backend")
    if not plugin.searchable:
        raise ConfigError(f"search.backend: {backend} jobs cannot be searched ({plugin.summary}); "
                          "set search.backend to a backend that can")
    inputs = _inputs(backend, train, val, grader, base_model)
    storage = cfg.storage or search_study.default_storage()
    names = sorted(cfg.space)
    name = cfg.study_name or search_study.default_name(
        backend, {k: path_md5(Path(v)) for k, v in inputs.items()}, names, cfg.objective)
    study = search_study.open_study(storage, name, cfg, space=names)
    key = study_key(storage, name)  # the study's identity in records: a same-named study elsewhere is another
    dists = space.distributions(cfg.space)
    leases = Leases(storage)
    me = worker_id()
    out_dir = Path(out_dir)
    run_params = {"study": name, "storage": redact(storage), "backend": backend, "objective": cfg.objective,
                  "trials": cfg.trials, "max_concurrent": cfg.max_concurrent, "budget_usd": cfg.budget_usd,
                  "sampler": cfg.sampler, "seed": cfg.seed, "pruner": cfg.pruner,
                  "space": {k: v.model_dump(exclude_none=True) for k, v in cfg.space.items()}}
    echo(f"search {name}: {cfg.trials} trials of {', '.join(names)} on {backend} ({redact(storage)})")
    try:
        with leases.hold(f"{name}/search-run", me):
            search_run_id = report.ensure_search_run(storage, name, run_params)
        with report.search_run(search_run_id) as run_id:
            ctx = Context(params=params, backend=backend, inputs=inputs, study=study, search_run_id=run_id,
                          log_dir=out_dir / "logs", echo=echo, study_key=key)
            try:
                _loop(ctx, leases, me, dists, max_polls)
            finally:
                for proc in ctx.followers.values():  # normal end: none left; Ctrl-C: stop training children
                    if proc.poll() is None:
                        proc.terminate()
            # under the search run's lease: two workers ending together never log one summary step twice
            with leases.hold(f"{name}/search-run", me):
                book = ledger.ledger(study.get_trials(deepcopy=False))
                figures = report.summarize(study, book, out_dir, backend)
    finally:
        leases.close()
    figures["study"], figures["run_id"] = name, run_id
    return figures


def _counts(study: Any) -> tuple[int, list[Any], list[Any]]:
    # optuna loads only when a study is opened
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state.name in DONE]
    running = [t for t in trials if t.state == TrialState.RUNNING]
    return len(done), running, done


def _running(study: Any) -> dict[int, Any]:
    # optuna loads only when a study is opened
    from optuna.trial import TrialState

    return {t.number: t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}


def _loop(ctx: Context, leases: Leases, me: str, dists: dict[str, Any], max_polls: int | None) -> None:
    cfg, study = ctx.cfg, ctx.study
    ttl = max(60.0, 10 * cfg.poll_s)
    refused = False
    polls = 0
    while True:
        n_done, running, _ = _counts(study)
        for number in [t.number for t in running]:  # follow what nobody else follows
            lease = f"{study.study_name}/trial-{number}"
            if not leases.acquire(lease, me, ttl):
                continue
            # Read the trial again under its lease: the worker that held it until now may have told it
            # (or stored its spec) after the list above was read.
            frozen = _running(study).get(number)
            if frozen is None or follow(ctx, frozen):
                leases.release(lease, me)
        n_done, running, done = _counts(study)
        if n_done >= cfg.trials and not running:
            return
        if not refused and n_done + len(running) < cfg.trials and len(running) < cfg.max_concurrent:
            refused = _launch_next(ctx, leases, me, dists, ttl)
        elif refused and not running:
            ctx.echo(f"search stopped with {n_done} of {cfg.trials} trials: the budget is spent")
            return
        polls += 1
        if max_polls is not None and polls >= max_polls:
            return
        time.sleep(cfg.poll_s)


def _launch_next(ctx: Context, leases: Leases, me: str, dists: dict[str, Any], ttl: float) -> bool:
    """Ask and launch one trial under the launch lease; True when the budget refused it."""
    # optuna loads only when a study is opened
    import optuna

    cfg, study = ctx.cfg, ctx.study
    with leases.hold(f"{study.study_name}/launch", me, ttl):
        n_done, running, done = _counts(study)  # again, under the lease: other workers may have launched
        if n_done + len(running) >= cfg.trials or len(running) >= cfg.max_concurrent:
            return False
        number = len(study.get_trials(deepcopy=False))
        study.sampler = make_sampler(cfg, number)
        # The new trial's lease is taken before the trial exists. Between `ask` and its stored spec
        # a trial is RUNNING with no spec, which another worker would otherwise take for one whose
        # launcher died and fail it. Optuna numbers a trial by the trials created before it, and
        # trials are only created under this launch lease, so the number is known in advance.
        leases.acquire(f"{study.study_name}/trial-{number}", me, ttl)
        trial = study.ask(dists)
        if trial.number != number:  # a trial created outside rftlab (optuna's own API) moved the count
            leases.release(f"{study.study_name}/trial-{number}", me)
            leases.acquire(f"{study.study_name}/trial-{trial.number}", me, ttl)
        try:
            launch(ctx, trial, done)
        except ledger.BudgetExhausted as exc:
            trial.set_user_attr("refused", str(exc))
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            ctx.echo(str(exc))
            return True
        except RftlabError as exc:  # an expected error (request invalid, AWS refused): one line, trial failed
            trial.set_user_attr("error", str(exc)[:1000])
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        except BaseException:  # Ctrl-C / SIGTERM: a launched trial stays RUNNING and is resumed next time
            if "spec" not in stored_trial(study, trial).user_attrs:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)  # nothing was launched
            raise
    return False
