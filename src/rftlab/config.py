"""params.yaml -> typed, validated configuration. The only module that reads params.yaml.

Every stage reads its own section. The whole file is validated before any work so a
typo in one section never surfaces halfway through `dvc repro`; errors name the key path.
Values are strict: a value of the wrong type is an error, never coerced (`scrub_pii: "off"`
is not false, `min_chars: true` is not 1); only dates and paths are read from strings, as
YAML and DVC's `-S` write them. A key given twice in one mapping is an error naming both lines.
"""

from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel, ConfigDict, Field, Strict, ValidationError, ValidationInfo, field_validator, model_validator,
)

from rftlab.errors import ConfigError
from rftlab.grader.relevance import DEFAULT_RUBRIC
from rftlab.strict_yaml import load_yaml

PARAMS_FILE = "params.yaml"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, strict=True)


# The two lax types: YAML gives a quoted date, and every path, as a string.
YamlDate = Annotated[dt.date, Strict(False)]
YamlPath = Annotated[Path, Strict(False)]


# --------------------------------------------------------------------------- stages


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
    rubric: str = Field(DEFAULT_RUBRIC, min_length=1)
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


class LocalHyperParameters(HyperParameters):
    """The tiny local model: a large step, short completions, a few prompts per step."""

    batchSize: int = Field(4, ge=1)
    learningRate: float = Field(1e-3, gt=0)
    inferenceMaxTokens: int = Field(32, ge=1)
    maxPromptLength: int = Field(256, ge=1)
    evalInterval: int | None = Field(10, ge=1)


class BedrockHyperParameters(HyperParameters):
    """Defaults seeded from AWS's published values; ranges checked against botocore's service model.

    Sources: aws-samples/amazon-bedrock-samples, custom-models/bedrock-reinforcement-fine-tuning/
    models/nova/nova_gsm8k_rft.ipynb (batchSize 32, epochCount 1, learningRate 5e-5,
    inferenceMaxTokens 750, trainingSamplePerPrompt 4); AWS ML blog "Reinforcement fine-tuning on
    Amazon Bedrock: Best practices" (learningRate ~1e-4 for LoRA, batch 128). `evalInterval` stays
    null: Bedrock chooses it when it is not sent.
    """

    batchSize: int = 32
    learningRate: float = 5e-5
    inferenceMaxTokens: int = 750
    maxPromptLength: int = 1024

    @field_validator("*", mode="before")
    @classmethod
    def _in_botocore_range(cls, value: Any, info: ValidationInfo) -> Any:
        from rftlab.jobs.hyperparams import range_problem

        checkable = isinstance(value, int | float | str) and not isinstance(value, bool)
        if checkable and info.field_name and (problem := range_problem(info.field_name, value)):
            raise ValueError(problem)
        return value


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


class InvocationLogsParams(Section):
    """Train a Nova job from the account's model invocation logs instead of the prompts file.

    Sent as CreateModelCustomizationJob `trainingDataConfig.invocationLogsConfig`
    (`invocationLogSource.s3Uri`, `requestMetadataFilters`, `usePromptResponse`: botocore's bedrock
    service model; user guide "Option 2: Use invocation logs for data preparation",
    https://docs.aws.amazon.com/bedrock/latest/userguide/rft-option-2.html). `request_metadata_filters`
    is botocore's RequestMetadataFilters union as is: exactly one of `equals` / `notEquals` (one
    key: value) or `andAll` / `orAll` (lists of those). Checked against the service model when loaded.
    """

    s3_uri: str | None = None                            # null: train from the prompts file
    request_metadata_filters: dict[str, Any] | None = None
    use_prompt_response: bool = False

    @model_validator(mode="after")
    def _botocore_shape(self) -> InvocationLogsParams:
        if self.s3_uri is None:
            if self.request_metadata_filters is not None or self.use_prompt_response:
                raise ValueError("s3_uri is not set: filters and use_prompt_response need the log location")
            return self
        from rftlab.jobs.bedrock.invocation_logs import config_problems

        problems = config_problems(self.s3_uri, self.request_metadata_filters, self.use_prompt_response)
        if problems:
            raise ValueError("; ".join(problems))
        return self


class OpenAIHyperParameters(Section):
    """The open-weight RFT hyperparameters, under the names AWS documents for the OpenAI-compatible API.

    Names and the values AWS's examples use (n_epochs 1, batch_size 4 prompts per step,
    learning_rate_multiplier 1.0): user guide fine-tuning-openai-job-create
    (https://docs.aws.amazon.com/bedrock/latest/userguide/fine-tuning-openai-job-create.html) and
    aws-samples/amazon-bedrock-samples custom-models/bedrock-reinforcement-fine-tuning/models/gpt-oss/
    gptoss_gsm8k_rft.ipynb ("batch_size - Prompts per training step"). AWS publishes no ranges, so only
    the sign is checked here. n_epochs / batch_size mean what epochCount / batchSize mean on the other
    backends and are also recorded under those names (docs/open_weight.md).
    """

    n_epochs: int = Field(1, ge=1)
    batch_size: int = Field(4, ge=1)
    learning_rate_multiplier: float = Field(1.0, gt=0)


class OpenAIBackendParams(Section):
    """Bedrock's OpenAI-compatible fine-tuning API (open-weight models, docs/open_weight.md).

    The grader Lambda is the one `rft.bedrock` describes (function, image, roles), published in
    this region; AWS's examples use us-west-2 (https://bedrock-mantle.us-west-2.api.aws/v1).
    """

    region: str = "us-west-2"
    base_model_id: str = "openai.gpt-oss-20b"
    endpoint: str | None = None             # null: OPENAI_BASE_URL, else https://bedrock-mantle.<region>.api.aws/v1
    api_key_env: str = Field("OPENAI_API_KEY", min_length=1)  # the Bedrock API key (docs: OPENAI_API_KEY)
    stop_on_budget: bool = True
    poll_s: float = Field(60.0, gt=0)
    poll_max_s: float = Field(600.0, gt=0)
    hyperparameters: OpenAIHyperParameters = OpenAIHyperParameters()


class BedrockBackendParams(Section):
    region: str = "us-east-1"
    base_model_id: str = "amazon.nova-2-lite-v1:0:256k"
    role_arn: str | None = None
    bucket: str | None = None
    prefix: str = "rftlab"
    kms_key_id: str | None = None
    lambda_function: str = "rftlab-grader"
    lambda_role_arn: str | None = None
    lambda_timeout_s: int = Field(300, ge=60, le=900)
    lambda_memory_mb: int = Field(2048, ge=128, le=10240)
    ecr_repository: str = "rftlab-grader"
    image_uri: str | None = None
    stop_on_budget: bool = True
    poll_s: float = Field(60.0, gt=0)
    poll_max_s: float = Field(600.0, gt=0)
    deployment_name: str | None = None
    build_context: YamlPath = Path("build/grader-lambda")
    invocation_logs: InvocationLogsParams = InvocationLogsParams()
    hyperparameters: BedrockHyperParameters = BedrockHyperParameters()


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
    backend: Literal["local", "bedrock", "openai"] = "local"
    base_model: str | None = None  # a Bedrock id here picks its API (bedrock or openai, jobs/bedrock/models.py)
    seed: int = 0
    budget_usd: float | None = Field(None, ge=0)
    local: LocalBackendParams = LocalBackendParams()
    bedrock: BedrockBackendParams = BedrockBackendParams()
    openai: OpenAIBackendParams = OpenAIBackendParams()
    prices: PriceParams = PriceParams()

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "hyperparameters" in data:
            raise ValueError("rft.hyperparameters moved: each backend has its own, "
                             "rft.local.hyperparameters and rft.bedrock.hyperparameters")
        return data

    @property
    def hyperparameters(self) -> HyperParameters | OpenAIHyperParameters:
        """The active backend's hyperparameters."""
        return self.hyperparameters_for(self.backend)

    def hyperparameters_for(self, backend: str) -> HyperParameters | OpenAIHyperParameters:
        """One backend's hyperparameters (a routed job uses its API's, not rft.backend's)."""
        return {"bedrock": self.bedrock.hyperparameters, "openai": self.openai.hyperparameters}.get(
            backend, self.local.hyperparameters)


class JudgeParams(Section):
    enabled: bool = False
    model_id: str = "us.amazon.nova-2-lite-v1:0"  # a Converse id: an inference profile
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

    backend: Literal["local", "bedrock"] | None = None   # null = rft.backend
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
    def _names(cls, value: dict[str, SearchDimension]) -> dict[str, SearchDimension]:
        from rftlab.jobs.hyperparams import bedrock_ranges

        unknown = sorted(set(value) - set(bedrock_ranges()))
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not an RFT hyperparameter (known: {', '.join(sorted(bedrock_ranges()))})")
        if not value:
            raise ValueError("search at least one hyperparameter")
        return value


class Params(Section):
    tracking: TrackingParams = TrackingParams()
    sample: SampleParams = SampleParams()
    ingest: IngestParams = IngestParams()
    profile: ProfileParams = ProfileParams()
    calibrate: CalibrateParams = CalibrateParams()
    check: CheckParams = CheckParams()
    prompts: PromptsParams = PromptsParams()
    base_model: BaseModelParams = BaseModelParams()
    rft: RftParams = RftParams()
    relevance: RelevanceParams = RelevanceParams()
    preflight: PreflightParams = PreflightParams()
    evaluate: EvaluateParams = EvaluateParams()
    search: SearchParams = SearchParams()

    @model_validator(mode="after")
    def _search_space_within_bedrock_ranges(self) -> Params:
        """A Bedrock search may only propose values botocore's service model allows."""
        from rftlab.jobs.hyperparams import range_problem

        if (self.search.backend or self.rft.backend) != "bedrock":
            return self
        bad = []
        for name, dim in self.search.space.items():
            for key, value in (("low", dim.low), ("high", dim.high)) if dim.choices is None else (
                    (f"choices[{i}]", v) for i, v in enumerate(dim.choices)):
                if value is not None and (problem := range_problem(name, value)):
                    bad.append(f"search.space.{name}.{key}: {problem}")
        if bad:
            raise ValueError("; ".join(bad))
        return self


# --------------------------------------------------------------------------- loading

_EXPECTED = {
    "date_from_datetime_parsing": "expected a date",
    "date_parsing": "expected a date",
    "date_type": "expected a date",
    "date_from_datetime_inexact": "expected a date",
    "int_parsing": "expected an integer",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "model_type": "expected a mapping",
    "dict_type": "expected a mapping",
}


def _format_error(err: dict[str, Any]) -> str:
    loc = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in err["loc"]).replace(".[", "[")
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        return f"{loc}: unknown key"
    if kind in _EXPECTED:
        return f"{loc}: {_EXPECTED[kind]}, got {_show(value)}"
    msg = err["msg"].removeprefix("Value error, ")
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "literal_error", "too_short"}:
        return f"{loc}: {msg.lower()}, got {_show(value)}"
    return f"{loc}: {msg}" if loc else msg


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def parse_params(data: Any, source: str = PARAMS_FILE) -> Params:
    """Validate a params mapping; raise ConfigError listing every bad key path."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections at the top level")
    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        lines = [_format_error(e) for e in exc.errors()]
        raise ConfigError(f"{source}: " + "; ".join(lines)) from None


def project_root(start: Path | None = None) -> Path:
    """The nearest folder upward holding params.yaml or dvc.yaml (else the cwd)."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / PARAMS_FILE).exists() or (d / "dvc.yaml").exists():
            return d
    return here


def params_path() -> Path:
    env = os.environ.get("RFTLAB_PARAMS")
    return Path(env) if env else project_root() / PARAMS_FILE


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> Params:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8") from None
    return parse_params(load_yaml(text, str(path)), source=str(path))


def load_params(path: str | os.PathLike | None = None) -> Params:
    """Load and validate params.yaml; a missing file means all defaults."""
    p = Path(path) if path else params_path()
    if not p.exists():
        if path:
            raise ConfigError(f"{p}: params file not found")
        return Params()
    return _load(str(p.resolve()), p.stat().st_mtime)
