"""params.yaml `rft.local`: the local backend's settings and hyperparameters (TRL GRPO on CPU)."""

from __future__ import annotations

from pydantic import Field

from rftlab.config.base import Section
from rftlab.config.rft import HyperParameters


class LocalHyperParameters(HyperParameters):
    """The tiny local model: a large step, short completions, a few prompts per step."""

    batchSize: int = Field(4, ge=1)
    learningRate: float = Field(1e-3, gt=0)
    inferenceMaxTokens: int = Field(32, ge=1)
    maxPromptLength: int = Field(256, ge=1)
    evalInterval: int | None = Field(10, ge=1)


class LoraParams(Section):
    enabled: bool = False
    r: int = Field(8, ge=1)
    alpha: int = Field(16, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | None = None


class LocalBackendParams(Section):
    max_steps: int | None = Field(None, ge=1)
    hourly_usd: float = Field(0.0, ge=0)
    beta: float = Field(0.04, ge=0)
    temperature: float = Field(1.0, gt=0)
    per_device_max: int = Field(8, ge=1)     # completions per forward pass (batchSize -> grad accumulation)
    val_prompts: int = Field(64, ge=1)       # validation prompts scored every evalInterval steps
    lora: LoraParams = LoraParams()
    hyperparameters: LocalHyperParameters = LocalHyperParameters()
