"""Finished calibration trials -> the persistent Optuna study and MLflow, off the search's thread.

The search samples on an in-memory copy of the study (study.py); each finished trial is written
back here with one storage call, which gives it its number in the PERSISTENT study, and that
number is the one its MLflow child run (`calibration-trial`) carries: several workers on one study
never log the same trial number twice, and every stored trial has its run. Each worker stops once
the study holds the target number of complete trials (checked after every trial against the
stored count plus its own trials not yet stored; a worker holds at most PENDING unstored trials,
so workers together overshoot by at most a few trials each, and one worker not at all).
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from rftlab import contracts, tracking
from rftlab.calibrate.weight_search import weights_from_params
from rftlab.progress import bar
from rftlab.studies.study import count_complete, store_trial

log = logging.getLogger(__name__)

PENDING = 2  # finished trials a worker may hold unstored: bounds what two workers overshoot the target by


class Recorder:
    """Writes each finished trial to the persistent study, then logs it as an MLflow child run —
    each from its own background thread, so store round-trips overlap the next trials and the
    persistent count (what the stop test reads) lags by a trial or two at most."""

    def __init__(self, study: Any, parent_run_id: str | None, space: list, *, target: int | None = None,
                 worker: int = 0, study_key: str | None = None) -> None:
        self.study, self.parent, self.space = study, parent_run_id, space
        self.target, self.worker, self.study_key = target, worker, study_key
        self.parent_run: Any = None
        self.queue: queue.Queue = queue.Queue(maxsize=PENDING)  # finished trials waiting for the study
        self.logs: queue.Queue = queue.Queue()      # stored trials (and their numbers) waiting for MLflow
        self.errors: list[BaseException] = []
        self.added = 0

        todo = max(0, target - count_complete(study)) if target is not None else None
        self.bar = bar(todo, desc="calibrate", unit="trial", enabled=bool(todo))  # a line a minute off a terminal
        self.threads = [threading.Thread(target=self._persist, name="calibrate-study", daemon=True),
                        threading.Thread(target=self._log_all, name="calibrate-mlflow", daemon=True)]
        for thread in self.threads:
            thread.start()

    def submit(self, work: Any, trial: Any) -> None:
        """Optuna callback on the in-memory study: queue the trial; stop once the study is full."""
        if self.errors:
            raise self.errors[0]
        self.queue.put(trial)  # waits while PENDING trials are still being stored: the count stays current
        self.bar.update()
        if self.target is None:
            return
        stored, pending = count_complete(self.study), self.queue.qsize()
        if stored + pending >= self.target:
            log.info("study holds %d complete trials (%d more being stored): target %d reached", stored, pending,
                     self.target)
            work.stop()

    def close(self, timeout: float = 600.0) -> None:
        self.bar.close()
        self.queue.put(None)
        for thread in self.threads:
            thread.join(timeout)
        if self.errors:
            raise self.errors[0]

    def _persist(self) -> None:
        try:
            while (trial := self.queue.get()) is not None:
                try:
                    number = store_trial(self.study, trial)
                    self.added += 1
                except Exception as exc:  # storage gone: stop the search, say why
                    self.errors.append(exc)
                    continue
                if self.parent is not None:
                    self.logs.put((trial, number))
        finally:
            self.logs.put(None)

    def _log_all(self) -> None:
        while (item := self.logs.get()) is not None:
            self._log(*item)

    def _log(self, trial: Any, number: int) -> None:
        ev = trial.user_attrs.get("eval", {})
        metrics = {"auc": ev.get("mean_auc"), "objective": trial.value, "penalty": ev.get("penalty"),
                   "gaming_above_median": ev.get("gaming_above_median")}
        metrics.update({f"fold_{i}_auc": a for i, a in enumerate(ev.get("fold_aucs", []))})
        try:
            if self.parent_run is None:
                self.parent_run = tracking.get_run(self.parent)
            tracking.log_child_run(
                self.parent, contracts.CALIBRATION_TRIAL, run_name=f"trial-{number}", parent=self.parent_run,
                params={"weights": trial.user_attrs.get("weights") or weights_from_params(trial.params, self.space)},
                metrics=metrics,
                tags={"optuna.trial_number": number, "optuna.state": trial.state.name,
                      contracts.STUDY: self.study.study_name, "rftlab.worker": self.worker,
                      **({contracts.STUDY_KEY: self.study_key} if self.study_key else {})},
                status="FINISHED" if trial.state.name == "COMPLETE" else "FAILED",
            )
        except Exception as exc:  # tracking must never kill the search
            log.warning("trial %d: MLflow child run not logged: %s", number, exc)
