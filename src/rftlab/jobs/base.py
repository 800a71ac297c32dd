"""The backend protocol every RFT backend implements, and the registry that picks one."""

from __future__ import annotations

import importlib
from typing import Any, Protocol, runtime_checkable

from rftlab.errors import ConfigError
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


# name -> "module:factory"; factory(params) -> Backend, params being the `rft` section.
BACKENDS: dict[str, str] = {
    "local": "rftlab.jobs.local.backend:LocalBackend",
    "bedrock": "rftlab.jobs.bedrock.backend:BedrockBackend",
    "openai": "rftlab.jobs.openai.backend:OpenAIBackend",  # open-weight models, OpenAI-compatible API
}


def register_backend(name: str, target: str) -> None:
    """Add a backend ("module:factory") so `get_backend(name, ...)` can build it."""
    BACKENDS[name] = target


def get_backend(name: str, params: Any = None) -> Backend:
    """Build the backend `name` from the `rft` params section (None = params.yaml's)."""
    if name not in BACKENDS:
        raise ConfigError(f"rft.backend: unknown backend {name!r} (known: {', '.join(sorted(BACKENDS))})")
    if params is None:
        from rftlab.config import load_params

        params = load_params().rft
    module, _, attr = BACKENDS[name].partition(":")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ModuleNotFoundError, AttributeError) as exc:
        raise ConfigError(f"rft.backend: backend {name!r} is not available ({exc})") from None
    return factory(params)
