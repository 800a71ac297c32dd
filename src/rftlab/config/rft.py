"""params.yaml `rft`: the backend, prices, the shared hyperparameter names; each backend's own section
comes from its plugin (rftlab.plugins)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, create_model, field_validator, model_validator

from rftlab import plugins
from rftlab.config.base import Section
from rftlab.errors import ConfigError


class HyperParameters(Section):
    """RFT hyperparameters under Bedrock's names (docs/hyperparameters.md), one set per backend.

    `batchSize` counts PROMPTS per optimizer step on both backends, as Bedrock does (AWS's Nova
    sample: "6k training samples / 32 batch size = ~188 steps per epoch"); each prompt brings
    `trainingSamplePerPrompt` completions. A value left null is not sent to Bedrock.
    """

    epochCount: int = Field(1, ge=1)
    batchSize: int = Field(16, ge=1)
    learningRate: float = Field(1e-5, gt=0)
    trainingSamplePerPrompt: int = Field(4, ge=2)
    inferenceMaxTokens: int = Field(256, ge=1)
    maxPromptLength: int = Field(1024, ge=1)
    reasoningEffort: Literal["low", "medium", "high"] | None = None
    evalInterval: int | None = Field(None, ge=1)


class PriceParams(Section):
    """All prices are estimates: AWS publishes no RFT training price."""

    training_usd_per_hour: float = Field(61.0, ge=0)
    lambda_usd_per_gb_s: float = Field(0.0000166667, ge=0)
    lambda_usd_per_request: float = Field(0.0000002, ge=0)
    inference_usd_per_1k_input_tokens: float = Field(0.0003, ge=0)
    inference_usd_per_1k_output_tokens: float = Field(0.0025, ge=0)
    training_tokens_per_hour: float = Field(2_000_000, gt=0)
    training_overhead_hours: float = Field(0.5, ge=0)
    lambda_avg_duration_s: float = Field(0.5, ge=0)
    chars_per_token: float = Field(1.0, gt=0)


class RftParams(Section):
    """The `rft` section: which backend runs jobs, and one sub-section per registered backend.

    A backend's sub-section (`rft.<name>`) is its plugin's params model (rftlab.plugins): the model
    that validates params.yaml is assembled from the registered plugins (`rft_model()`), so a
    backend added by another package is configured and validated like the built-in ones.
    """

    backend: str = "local"
    base_model: str | None = None  # a model id here picks the backend of rft.backend's family that takes it
    seed: int = 0
    budget_usd: float | None = Field(None, ge=0)
    prices: PriceParams = PriceParams()

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        """Keys that moved: one line naming where (ConfigError, so the line is not nested under `rft:`)."""
        if isinstance(data, dict):
            if "hyperparameters" in data:
                sections = " and ".join(f"rft.{name}.hyperparameters" for name in sorted(plugins.plugins()))
                raise ConfigError(f"rft.hyperparameters moved: each backend has its own, {sections}")
            for key in data:
                successor = plugins.renamed(str(key))
                if successor is not None:
                    raise ConfigError(f"rft.{key}: backend {key!r} was renamed {successor.name!r} "
                                      f"({successor.summary}); move these settings to rft.{successor.name}")
        return data

    @field_validator("backend")
    @classmethod
    def _registered(cls, value: str) -> str:
        try:
            plugins.backend(value, key="rft.backend")
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("rft.backend: ")) from None
        return value

    def section(self, name: str) -> Any:
        """The params of backend `name` (rft.<name>), its plugin's defaults when params.yaml has none."""
        found = getattr(self, name, None)
        return found if found is not None else plugins.backend(name).params_section()()

    def with_section(self, name: str, section: Any) -> RftParams:
        """A copy with backend `name`'s params replaced (a search trial's hyperparameters)."""
        return self.model_copy(update={name: section})

    @property
    def hyperparameters(self) -> Any:
        """The active backend's hyperparameters."""
        return self.hyperparameters_for(self.backend)

    def hyperparameters_for(self, backend: str) -> Any:
        """One backend's hyperparameters (a routed job uses its backend's, not rft.backend's)."""
        return self.section(backend).hyperparameters


@lru_cache(maxsize=1)
def rft_model() -> type[RftParams]:
    """RftParams with a field per registered backend (rft.<name>: its plugin's params model)."""
    sections = {name: p.params_section() for name, p in plugins.plugins().items()}
    fields: dict[str, Any] = {name: (cls, Field(default_factory=cls)) for name, cls in sections.items()}
    return create_model("RftParams", __base__=RftParams, **fields)
