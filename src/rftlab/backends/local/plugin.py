"""The `local` backend's registration: TRL GRPO on this machine's CPU, from the base_model stage's model.

Light on purpose (the registry imports it to read `rft.local`): torch, transformers and TRL load
inside the hooks that need them, each import with its reason.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rftlab.errors import InputError
from rftlab.io import atomic_dir, project_path, relative_to_project
from rftlab.plugins import BackendPlugin

DEFAULT_BASE_MODEL = "data/models/base"  # the base_model stage's output


class LocalPlugin(BackendPlugin):
    name = "local"
    summary = "TRL GRPO on this machine's CPU (offline)"
    offline_relevance = True   # trained against the relevance proxy, so judged by it too
    priced_by_tokens = False   # its inference costs wall time at rft.local.hourly_usd

    def params_section(self) -> type:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.backends.local.params import LocalBackendParams

        return LocalBackendParams

    def claims_base_model(self, model: str) -> bool:
        return Path(model).is_dir()

    def base_models_help(self) -> str:
        return f"rft.backend {self.name} takes a Hugging Face model folder (default {DEFAULT_BASE_MODEL})"

    def default_base_model(self) -> str:
        return DEFAULT_BASE_MODEL

    def spec(self, rft: Any, requested: str | None) -> tuple[str, dict[str, Any]]:
        model = requested or DEFAULT_BASE_MODEL
        if not Path(model).exists():
            raise InputError(f"{model}: base model folder not found (run `rftlab base-model` or set rft.base_model)")
        loc = rft.section(self.name)
        options: dict[str, Any] = {"max_steps": loc.max_steps, "beta": loc.beta, "temperature": loc.temperature,
                                   "per_device_max": loc.per_device_max, "val_prompts": loc.val_prompts}
        if loc.lora.enabled:
            options["lora"] = loc.lora.model_dump()
        return model, options

    def create(self, rft: Any, **kw: Any) -> Any:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.backends.local.backend import (
            LocalBackend,  # torch loads with it: only when a job runs
        )

        return LocalBackend(rft, **kw)

    def export_model(self, backend: Any, state: Any, model_out: Path) -> dict[str, Any]:
        """Copy the job's model folder (untracked state under .rftlab/jobs/) to the stage's output."""
        src = Path(state.model_id or "")
        if not src.is_dir():
            raise InputError(f"job {state.job_id} is Completed but its model folder {src} is gone; delete "
                             f"{backend.store.path(state.spec_hash)} and rerun `dvc repro rft` to train it again")
        with atomic_dir(Path(model_out)) as tmp:
            shutil.copytree(src, tmp, dirs_exist_ok=True)
        path = relative_to_project(model_out)
        return {"model_id": path, "model_path": path}

    def record_fields(self, state: Any) -> dict[str, Any]:
        return {}  # duration and cost are this machine's wall time: MLflow and .rftlab/jobs/ only

    def weights_dir(self, record: Mapping[str, Any], model_out: Path) -> Path | None:
        return Path(model_out) if Path(model_out).is_dir() else None

    def generators(self, record: Mapping[str, Any], params: Any) -> tuple[Any, Any]:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.backends.local.generator import (
            LocalGenerator,  # transformers: only when generating
        )

        tuned = record.get("model_path") or record["model_id"]  # the stage's copy (data/rft/model) first
        if not project_path(tuned).exists():
            tuned = record["model_id"]
        return (LocalGenerator(project_path(record["base_model"]), name="base"),
                LocalGenerator(project_path(tuned), name="tuned"))

    def rollout_generator(self, spec: Any, params: Any) -> Any:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.backends.local.generator import (
            LocalGenerator,  # transformers: only when generating
        )

        return LocalGenerator(spec.base_model, name="base")

    def rollout_temperature(self, spec: Any) -> float:
        return float(spec.options.get("temperature", 1.0))  # the GRPO trainer's sampling temperature

    def trial_estimate_usd(self, spec: Any, rft: Any, durations_min: list[float]) -> float:
        """The hourly rate times the mean duration of the trials finished so far."""
        rate = float(rft.section(self.name).hourly_usd or 0.0)
        mean_min = sum(durations_min) / len(durations_min) if durations_min else 0.0
        return round(rate * mean_min / 60.0, 6)

    def needs_follower(self, backend: Any, state: Any) -> bool:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.backends.local.backend import (
            pid_alive,  # the backend module loads torch lazily too
        )

        return not state.done and not pid_alive(state.details.get("pid"))

    def register_commands(self, groups: Mapping[str, Any]) -> None:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.backends.local import (
            commands,  # typer commands: only when the CLI starts
        )

        commands.register(groups)

