"""params.yaml sections of the data stages (sample .. base_model), the relevance judge, the
preflight and the evaluation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from rftlab.config.base import Section, YamlDate, YamlPath
from rftlab.rubrics import RELEVANCE_RUBRIC


class TrackingParams(Section):
    experiment: str = Field("rftlab", min_length=1)
    register_models: bool = True


class SampleParams(Section):
    """The bundled, generated Slack export (deterministic for a given seed)."""

    seed: int = 7
    messages: int = Field(3600, ge=100)
    start: YamlDate = dt.date(2025, 1, 6)
    days: int = Field(365, ge=7)


class IngestParams(Section):
    source: YamlPath = Path("data/sample/slack-export.zip")
    date_from: YamlDate | None = None
    date_to: YamlDate | None = None
    channels: list[str] = []
    users: list[str] = []
    min_chars: int = Field(2, ge=0)
    drop_code_blocks: bool = True
    scrub_pii: bool = True
    on_error: Literal["fail", "skip"] = "fail"

    @model_validator(mode="after")
    def _range(self) -> IngestParams:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError(f"date_from ({self.date_from}) is after date_to ({self.date_to})")
        return self


class ProfileParams(Section):
    author: str = Field("U01CTO", min_length=1)
    top_vocab: int = Field(50, ge=1, le=1000)
    min_count: int = Field(2, ge=1)
    min_users: int = Field(3, ge=1)  # a key with a digit or @ needs this many distinct writers (docs/privacy.md)


class CalibrateParams(Section):
    trials: int = Field(80, ge=1)
    seed: int = 0
    folds: int = Field(5, ge=2, le=20)
    storage: str | None = None
    study_name: str | None = None
    gaming_penalty: float = Field(1.0, ge=0)
    background_per_fold: int | None = Field(None, ge=10)


class AttackParams(Section):
    """The gate's red team (calibrate/attack.py): a seeded black-box search against the grader."""

    budget: int = Field(6000, ge=0)      # grader calls per seed (0: no attack)
    seeds: list[int] = [0, 1, 2]
    panel: int = Field(4, ge=1)          # training prompts each candidate is scored against (one call)
    eval_prompts: int = Field(32, ge=1)  # unseen prompts the best candidates are re-scored on
    max_quantile: float = Field(0.5, ge=0, le=1)  # best attack below this quantile of the target's real scores


class CheckParams(Section):
    min_auc: float = Field(0.80, ge=0, le=1)
    max_gaming_quantile: float = Field(0.5, ge=0, le=1)
    min_group_spread: float = Field(0.02, ge=0)
    min_reference_top_decile: float = Field(0.5, ge=0, le=1)
    folds: int = Field(5, ge=2, le=20)   # held-out folds (same split rules as calibrate)
    seed: int = 0
    attack: AttackParams = AttackParams()


class RelevanceParams(Section):
    """Does the reply address the prompt? The reward's second axis (grader/relevance.py, docs/relevance.md).

    Goes into the grader bundle at calibration: reward = style x (1 - weight x (1 - relevance)).
    `judge: bedrock` calls `model_id` (a Converse id: an inference profile) through Converse from inside
    the grader Lambda, like AWS's RLAIF sample (reward-functions/pandalm_rew_func.py); `proxy` is the
    offline stand-in (the prompt's key terms echoed), which local training and the gate always use.
    Prices are estimates for the job's cost estimate (defaults: the rft.prices inference prices).
    """

    enabled: bool = True
    judge: Literal["proxy", "bedrock"] = "proxy"
    weight: float = Field(0.5, ge=0, le=1)
    model_id: str = Field("us.amazon.nova-2-lite-v1:0", min_length=1)
    region: str = "us-east-1"
    rubric: str = Field(RELEVANCE_RUBRIC, min_length=1)
    max_tokens: int = Field(100, ge=1)
    concurrency: int = Field(8, ge=1, le=64)
    timeout_s: float = Field(20.0, gt=0)
    usd_per_1k_input_tokens: float = Field(0.0003, ge=0)
    usd_per_1k_output_tokens: float = Field(0.0025, ge=0)

    def bundle_block(self) -> dict[str, Any] | None:
        """What the grader bundle carries (None: no relevance judge, the reward is the style score)."""
        if not self.enabled:
            return None
        return self.model_dump(mode="json", exclude={"enabled", "usd_per_1k_input_tokens", "usd_per_1k_output_tokens"})


class PreflightParams(Section):
    """`rftlab preflight`: base-model rollouts scored before any RFT job (docs/preflight.md)."""

    prompts: int = Field(32, ge=1)        # training prompts sampled (seeded)
    seed: int = 0
    flat_std: float = Field(0.01, ge=0)   # a prompt whose rollouts' reward std is below this is flat
    max_flat_share: float = Field(0.5, ge=0, le=1)   # fail above this share of flat prompts
    min_mean_std: float = Field(0.02, ge=0)          # fail below this mean within-prompt std
    max_done_share: float = Field(0.9, ge=0, le=1)   # fail when this share already beats the target's median
    max_usd: float = Field(1.0, ge=0)     # Bedrock: refuse rollouts whose estimated Converse cost is above it
    enforce: bool = True                  # false: a failure is reported and logged, the pipeline goes on


class AugmentParams(Section):
    min_count: int = Field(0, ge=0)
    templates: list[str] = []
    bedrock_paraphrase: bool = False
    paraphrase_model_id: str = "us.amazon.nova-2-lite-v1:0"  # a Converse id: an inference profile
    region: str = "us-east-1"

    @field_validator("templates")
    @classmethod
    def _has_slot(cls, value: list[str]) -> list[str]:
        for i, t in enumerate(value):
            if "{prompt}" not in t:
                raise ValueError(f"templates[{i}] must contain {{prompt}}, got {t!r}")
        return value


class PromptsParams(Section):
    reply_window_min: int = Field(30, ge=0)
    system_prompt: str | None = None
    use_channel_purpose: bool = False
    context_tokens: int = Field(0, ge=0)
    min_chars: int = Field(4, ge=1)
    max_chars: int = Field(1000, ge=1)
    # estimated tokens per prompt (system + context + message); one limit for every backend, so a
    # local and a Bedrock job train on the same prompts. Launch checks it against maxPromptLength.
    max_prompt_tokens: int = Field(256, ge=1)
    val_fraction: float = Field(0.15, gt=0, lt=1)
    seed: int = 0
    augment: AugmentParams = AugmentParams()

    @model_validator(mode="after")
    def _lengths(self) -> PromptsParams:
        if self.min_chars > self.max_chars:
            raise ValueError(f"min_chars ({self.min_chars}) is greater than max_chars ({self.max_chars})")
        return self


class BaseModelParams(Section):
    """The small causal LM built from the export so the offline loop needs no hub."""

    include_target: bool = False
    vocab_size: int = Field(2000, ge=260)
    d_model: int = Field(128, ge=16)
    n_layer: int = Field(2, ge=1)
    n_head: int = Field(4, ge=1)
    context: int = Field(96, ge=16)
    epochs: int = Field(3, ge=1)
    learning_rate: float = Field(3e-3, gt=0)
    batch_size: int = Field(32, ge=1)
    seed: int = 0


class JudgeParams(Section):
    enabled: bool = False
    model_id: str = "us.amazon.nova-2-lite-v1:0"  # a Converse id: an inference profile
    region: str = "us-east-1"                      # where the judge's Converse calls go
    rubric: str = (
        "Rate from 1 to 5 how relevant and helpful the reply is to the message, ignoring style. "
        'Answer only with JSON: {"score": <1-5>, "reason": "<one sentence>"}'
    )


class EvaluateParams(Section):
    samples_per_prompt: int = Field(2, ge=1)
    temperature: float = Field(1.0, gt=0)
    max_tokens: int = Field(32, ge=1)
    max_prompts: int | None = Field(None, ge=1)
    seed: int = 0
    bootstrap: int = Field(1000, ge=100)
    spot_check_per_user: int = Field(3, ge=0)
    bedrock_base_model_id: str | None = None  # Converse id for the base side (null: the job's base model's profile)
    judge: JudgeParams = JudgeParams()
