"""What every remote backend (Bedrock's job API, the OpenAI-compatible API) does the same way:
status with the budget guard, one poll into MLflow, and the backoff loop that follows a job.

A subclass provides `settings` (poll_s, poll_max_s, stop_on_budget), `refresh(state)` (read the
job, save the state), `stop(state)`, `_record(state)` (the job's MLflow run), `progress_line(state)`
and `signature(state)` (what counts as a change worth polling faster for).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rftlab.jobs import cost
from rftlab.jobs.state import JobState

HEARTBEAT_S = 60.0  # at most this long without a line while a remote job is followed


class RemoteBackend:
    rft: Any
    echo: Callable[[str], None]
    sleep: Callable[[float], None]
    stop_verb = "stopping"

    @property
    def settings(self) -> Any:
        raise NotImplementedError

    def refresh(self, state: JobState) -> JobState:
        raise NotImplementedError

    def stop(self, state: JobState) -> JobState:
        raise NotImplementedError

    def _record(self, state: JobState) -> JobState:
        raise NotImplementedError

    def progress_line(self, state: JobState) -> str:
        raise NotImplementedError

    def signature(self, state: JobState) -> Any:
        return state.status

    def status(self, state: JobState) -> JobState:
        """Refresh, report a failure, and enforce rft.budget_usd on a running job."""
        state = self.refresh(state)
        if state.status == "Failed":
            self.echo(f"job {state.job_id} failed: {state.failure_message or 'no failure message given'}")
        if (state.status == "InProgress" and self.settings.stop_on_budget and not state.details.get("stop_requested")
                and cost.over_budget(state.cost_usd, self.rft.budget_usd)):
            self.echo(f"estimated spend ${state.cost_usd:,.2f} (estimate) crossed rft.budget_usd "
                      f"${self.rft.budget_usd:,.2f}: {self.stop_verb} {state.job_id}")
            state = self.stop(state.update(details={**state.details, "stopped_for_budget": True}))
        return state

    def poll(self, state: JobState) -> JobState:
        """One look: status (budget guard included) and new metrics into the job's MLflow run."""
        return self._record(self.status(state))

    def wait(self, state: JobState, progress: bool = True,
             on_poll: Callable[[JobState], None] | None = None) -> JobState:
        """Poll until the job ends: backoff x1.5 while nothing changes, back to poll_s on a change."""
        interval, last = self.settings.poll_s, None
        while True:
            state = self.poll(state)
            if on_poll:
                on_poll(state)
            if progress:
                self.echo(self.progress_line(state))
            sig = self.signature(state)
            interval = self.settings.poll_s if sig != last else min(interval * 1.5, self.settings.poll_max_s)
            last = sig
            if state.done:
                return state
            self._sleep_showing(interval, state, progress)

    def _sleep_showing(self, seconds: float, state: JobState, progress: bool) -> None:
        """Sleep until the next poll; while the backoff stretches the wait past a minute, one line a
        minute says the job is still followed (the last status, and when the next poll comes)."""
        left = float(seconds)
        while left > 0:
            chunk = min(left, HEARTBEAT_S)
            self.sleep(chunk)
            left -= chunk
            if progress and left > 0:
                self.echo(f"{self.progress_line(state)} | next poll in {left:.0f} s")

    def model_id(self, state: JobState) -> str | None:
        return state.model_id

    def cost(self, state: JobState) -> float:
        return state.cost_usd
