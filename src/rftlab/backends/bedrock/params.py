"""params.yaml `rft.bedrock`: Amazon Bedrock RFT of Nova (CreateModelCustomizationJob) and its grader Lambda."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from rftlab.backends.bedrock.hyperparams import range_problem
from rftlab.backends.bedrock.invocation_logs import config_problems
from rftlab.config.base import Section, YamlPath
from rftlab.config.rft import HyperParameters


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
        checkable = isinstance(value, int | float | str) and not isinstance(value, bool)
        if checkable and info.field_name and (problem := range_problem(info.field_name, value)):
            raise ValueError(problem)
        return value


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
        problems = config_problems(self.s3_uri, self.request_metadata_filters, self.use_prompt_response)
        if problems:
            raise ValueError("; ".join(problems))
        return self


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
