"""The job-control protocol every RFT backend's runner implements (its plugin builds it: rftlab.plugins)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from rftlab.jobs.spec import JobSpec
from rftlab.jobs.state import JobState


@runtime_checkable
class Backend(Protocol):
    """Submit / follow / stop an RFT job. Status uses Bedrock's vocabulary."""

    name: str

    def submit(self, spec: JobSpec) -> JobState: ...

    def status(self, state: JobState) -> JobState: ...

    def wait(self, state: JobState, progress: bool = True) -> JobState: ...

    def metrics(self, state: JobState) -> list[tuple[int, dict[str, float]]]: ...

    def stop(self, state: JobState) -> JobState: ...

    def model_id(self, state: JobState) -> str | None: ...

    def cost(self, state: JobState) -> float: ...
