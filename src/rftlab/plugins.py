"""RFT backends are plugins: each registers a `BackendPlugin` under the entry-point group `rftlab.backends`.

A backend is one folder and one registration (pyproject.toml):
    [project.entry-points."rftlab.backends"]
    local = "rftlab.backends.local.plugin:LocalPlugin"

so a separate package adds a backend the same way, without touching rftlab (docs/backends.md). Core
code asks the registry for the plugin a name or a job record names and calls its hooks; it never
compares backend names (tests/test_architecture.py checks). The entry point names a light module:
the registry imports it to read the backend's params section, heavy libraries load in its hooks.

This module is the bottom layer's registry: it imports nothing of rftlab but errors and io, so config can
ask it for each backend's params section.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rftlab import contracts
from rftlab.errors import ConfigError
from rftlab.io import write_json

if TYPE_CHECKING:  # annotations only: the hooks' argument types live in layers above this one
    from rftlab.config import Params, RftParams
    from rftlab.jobs.spec import JobSpec
    from rftlab.jobs.state import JobState

GROUP = "rftlab.backends"


class BackendPlugin:
    """What a backend tells rftlab. Subclass it, set the class attributes, override what differs.

    Every hook has a default that fits a backend with nothing to serve, no cost estimate and no
    commands of its own. `params_section()` is the pydantic section `rft.<name>` of params.yaml; it
    must have a `hyperparameters` field (the names and ranges the backend's API takes).
    """

    name: str = ""
    summary: str = ""                   # one line: what runs the jobs (help texts, errors, docs)
    family: str | None = None           # backends of one family route base-model ids between them
    retired_names: tuple[str, ...] = ()  # former names, refused with one line naming this one
    searchable: bool = True             # `rftlab search` may run its jobs as trials
    offline_relevance: bool = False     # its jobs trained with the offline relevance proxy (judged the same way)
    priced_by_tokens: bool = False      # inference cost from tokens and prices (else wall time: MLflow only)

    # ------------------------------------------------------------------ params and spec
    def params_section(self) -> type:
        """The Section class of `rft.<name>` (imported here, not with the plugin: `rftlab --help` loads every
        plugin and must not pay for pydantic)."""
        raise NotImplementedError(f"backend {self.name}: params_section")

    def search_space_problems(self, space: Mapping[str, Any]) -> list[str]:
        """`search.space` bounds this backend's API would refuse, one line each (params.yaml keys)."""
        return []

    def claims_base_model(self, model: str) -> bool:
        """Whether this backend fine-tunes `model` (a model id, or a folder for a local backend)."""
        return False

    def base_models_help(self) -> str:
        """Which base models this backend takes, for errors that list a family's options."""
        return f"rft.backend {self.name}"

    def spec(self, rft: RftParams, requested: str | None) -> tuple[str, dict[str, Any]]:
        """(base model, options) of a job: options hold only what changes the job's result."""
        raise NotImplementedError(f"backend {self.name}: spec")

    def default_base_model(self) -> str | None:
        """A pipeline output the job trains from when no base model is given (a path), if any."""
        return None

    def create(self, rft: RftParams, **kw: Any) -> Any:
        """The object that submits, follows and stops jobs (rftlab.jobs.backend.Backend)."""
        raise NotImplementedError(f"backend {self.name}: create")

    # ------------------------------------------------------------------ after the job
    def export_model(self, backend: Any, state: JobState, model_out: Path) -> dict[str, Any]:
        """Write the tuned model (or what names it) to `model_out`; returns the record's model_id and
        model_path (a path relative to the project, or None when the weights stay remote)."""
        write_json(model_out / "model_id.json", {"model_id": state.model_id, "job_id": state.job_id})
        return {"model_id": state.model_id, "model_path": None}

    def record_fields(self, state: JobState) -> dict[str, Any]:
        """Fields of the job record that are the job's own facts, the same on every rerun."""
        return {contracts.COST_USD: state.cost_usd, contracts.DURATION_MIN: state.duration_min}

    def model_tags(self, record: Mapping[str, Any]) -> dict[str, str]:
        """Extra tags of the job's registered model (rftlab-style), e.g. a remote model's ARN."""
        return {}

    def weights_dir(self, record: Mapping[str, Any], model_out: Path) -> Path | None:
        """A local folder of weights to log as an MLflow model, if the job produced one here."""
        return None

    # ------------------------------------------------------------------ serving and evaluation
    def deploy(self, record: Mapping[str, Any], params: Params, *, job_ref: str | None = None,
               name: str | None = None, echo: Any = print) -> dict[str, Any]:
        """Serve a completed job's model; returns the deploy stage's record (what `evaluate` reaches)."""
        echo(f"{self.name} job {record['job_id']}: nothing to deploy; the model is "
             f"{record.get('model_path') or record.get('model_id')}")
        return {"job_id": record["job_id"], "backend": record["backend"],
                "model": record.get("model_path") or record.get("model_id")}

    def generators(self, record: Mapping[str, Any], params: Params) -> tuple[Any, Any]:
        """(base, tuned) generators for evaluation (rftlab.generation.Generator)."""
        raise NotImplementedError(f"backend {self.name}: generators")

    def rollout_generator(self, spec: JobSpec, params: Params) -> Any:
        """A generator of the job's base model, for the preflight's rollouts."""
        raise NotImplementedError(f"backend {self.name}: rollout_generator")

    def rollout_temperature(self, spec: JobSpec) -> float:
        """The temperature the job's own rollouts are sampled at (1.0 when the service publishes none)."""
        return 1.0

    def preflight_estimate(self, prompts: list[dict], n: int, max_tokens: int, params: Params) -> dict[str, float]:
        """The preflight's cost ESTIMATE in dollars (`total_usd` and parts); {} when it costs nothing."""
        return {}

    def estimate(self, train: Path, rft: RftParams) -> Any:
        """A pre-launch cost estimate of a job on these prompts (rftlab.jobs.cost.Estimate)."""
        raise ConfigError(f"rft.backend {self.name}: no pre-launch cost estimate for this backend")

    def trial_estimate_usd(self, spec: JobSpec, rft: RftParams, durations_min: list[float]) -> float:
        """A search trial's cost ESTIMATE before launch, given the finished trials' durations."""
        return 0.0

    # ------------------------------------------------------------------ following jobs
    def progress_line(self, state: JobState) -> str:
        return f"{state.job_id} | {state.status} | {state.duration_min:.1f} min | ${state.cost_usd:,.2f}"

    def find_job(self, ref: str, rft: RftParams) -> tuple[Any, JobState] | None:
        """(backend, state) for a job the project's state store does not hold (e.g. by its ARN)."""
        return None

    def needs_follower(self, backend: Any, state: JobState) -> bool:
        """Whether a search worker must start a process to train this job (nothing else will)."""
        return False

    def register_commands(self, groups: Mapping[str, Any]) -> None:
        """Add the backend's own commands to the `rftlab` command groups (app, job, grader, prompts)."""


# ---------------------------------------------------------------------------- the registry
@lru_cache(maxsize=1)
def _registered() -> dict[str, BackendPlugin]:
    found: dict[str, BackendPlugin] = {}
    for ep in entry_points(group=GROUP):
        if ep.name in found:
            continue  # the first distribution on sys.path wins, as Python's own imports do
        try:
            obj = ep.load()
        except Exception as exc:  # a broken third-party plugin must not take the others down
            raise ConfigError(f"rft.backend plugin {ep.name} ({ep.value}) failed to load: {exc}") from None
        plugin = obj() if isinstance(obj, type) else obj
        if not isinstance(plugin, BackendPlugin) or plugin.name != ep.name:
            raise ConfigError(f"rft.backend plugin {ep.name} ({ep.value}) is not a BackendPlugin named {ep.name!r}")
        found[ep.name] = plugin
    return found


def plugins() -> dict[str, BackendPlugin]:
    """name -> plugin, every backend registered in this environment."""
    return dict(_registered())


def reload() -> None:
    """Forget the registry (a test that installs a plugin on sys.path)."""
    _registered.cache_clear()


def renamed(name: str) -> BackendPlugin | None:
    """The plugin that now answers to a retired backend name, if any."""
    return next((p for p in _registered().values() if name in p.retired_names), None)


def backend(name: str, key: str = "rft.backend") -> BackendPlugin:
    """The plugin registered as `name`; ConfigError naming `key` and the known backends otherwise."""
    found = _registered()
    if name in found:
        return found[name]
    successor = renamed(name)
    if successor is not None:
        raise ConfigError(f"{key}: backend {name!r} was renamed {successor.name!r} ({successor.summary}); "
                          f"use {successor.name!r} and move its settings to rft.{successor.name}")
    known = ", ".join(sorted(found)) or "none: reinstall rftlab (`make setup`)"
    raise ConfigError(f"{key}: unknown backend {name!r} (registered: {known})")


def family_member(family: str, model: str) -> BackendPlugin | None:
    """The backend of `family` that fine-tunes `model`, if one does."""
    return next((p for p in _registered().values() if p.family == family and p.claims_base_model(model)), None)


def family_help(family: str) -> str:
    """Each backend of a family and the base models it takes, for one error line."""
    return "; ".join(p.base_models_help() for p in _registered().values() if p.family == family)
