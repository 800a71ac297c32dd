"""params.yaml `search`: the RFT hyperparameter search across jobs (docs/search.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from rftlab.config.base import Section


class SearchDimension(Section):
    """One searched hyperparameter: a range (optionally log-scaled) or a list of choices."""

    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _shape(self) -> SearchDimension:
        if self.choices is not None:
            if not self.choices or self.low is not None or self.high is not None:
                raise ValueError("give either choices (a non-empty list) or low and high")
        elif self.low is None or self.high is None or self.low > self.high:
            raise ValueError("give low <= high, or choices")
        elif self.log and self.low <= 0:
            raise ValueError("a log-scaled range needs low > 0")
        return self


class SearchParams(Section):
    """`rftlab search`: Optuna over RFT hyperparameters, one trial = one RFT job (docs/search.md)."""

    backend: str | None = None                            # null = rft.backend (a registered, searchable backend)
    trials: int = Field(6, ge=1)                          # the study's target size (complete + pruned)
    max_concurrent: int = Field(1, ge=1)                  # jobs in flight, across all workers
    budget_usd: float | None = Field(None, ge=0)          # spent + committed + next estimate must fit
    objective: Literal["val_reward", "val_reward_minus_cost", "uplift_per_usd"] = "val_reward"
    cost_weight: float = Field(0.0, ge=0)                 # val_reward_minus_cost: reward units per dollar
    sampler: Literal["tpe", "random"] = "tpe"
    seed: int = 0
    pruner: Literal["none", "median", "successive_halving"] = "median"
    pruner_startup_trials: int = Field(2, ge=0)           # median: trials completed before pruning starts
    storage: str | None = None                            # Optuna URL; null = sqlite data/search/optuna.db
    study_name: str | None = None                         # null = derived from backend, inputs and space
    poll_s: float = Field(2.0, gt=0)                      # how often running jobs are checked
    space: dict[str, SearchDimension] = Field(default_factory=lambda: {
        "learningRate": SearchDimension(low=1e-5, high=1e-3, log=True),
        "trainingSamplePerPrompt": SearchDimension(choices=[4, 8]),
    })

    @field_validator("space")
    @classmethod
    def _not_empty(cls, value: dict[str, SearchDimension]) -> dict[str, SearchDimension]:
        if not value:
            raise ValueError("search at least one hyperparameter")
        return value
