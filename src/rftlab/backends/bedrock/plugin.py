"""The `bedrock` backend's registration: Amazon Nova RFT through CreateModelCustomizationJob.

Light on purpose (the registry imports it to read `rft.bedrock`): boto3 and the job machinery load
inside the hooks that need them. Its family sibling, the open-weight backend (open_weight/), shares
this folder's grader Lambda, IAM documents, model ids and request shapes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rftlab.aws.models import bare_id
from rftlab.backends.bedrock.models import RFT_BASE_MODELS
from rftlab.errors import InputError
from rftlab.plugins import BackendPlugin

FAMILY = "bedrock"


class BedrockPlugin(BackendPlugin):
    name = "bedrock"
    summary = "Amazon Bedrock RFT of Nova (CreateModelCustomizationJob)"
    family = FAMILY
    priced_by_tokens = True

    def params_section(self) -> type:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.backends.bedrock.params import BedrockBackendParams

        return BedrockBackendParams

    def search_space_problems(self, space: Mapping[str, Any]) -> list[str]:
        """Bounds botocore's service model refuses (RFTHyperParameters ranges)."""
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.backends.bedrock.hyperparams import range_problem

        bad = []
        for name, dim in space.items():
            values = (("low", dim.low), ("high", dim.high)) if dim.choices is None else \
                ((f"choices[{i}]", v) for i, v in enumerate(dim.choices))
            for key, value in values:
                if value is not None and (problem := range_problem(name, value)):
                    bad.append(f"search.space.{name}.{key}: {problem}")
        return bad

    def claims_base_model(self, model: str) -> bool:
        return bare_id(model) in RFT_BASE_MODELS

    def base_models_help(self) -> str:
        return f"rft.backend {self.name} (CreateModelCustomizationJob) takes {', '.join(RFT_BASE_MODELS)}"

    def spec(self, rft: Any, requested: str | None) -> tuple[str, dict[str, Any]]:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.backends.bedrock.invocation_logs import from_params

        section = rft.section(self.name)
        options: dict[str, Any] = {"region": section.region}
        # a job run against another endpoint (the offline rehearsal's stand-in) is another job: its
        # state never answers for the real account's job with the same inputs
        endpoint = os.environ.get("AWS_ENDPOINT_URL_BEDROCK") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            options["endpoint"] = endpoint
        logs = from_params(section)
        if logs:  # trained on invocation logs: part of what the job is (spec hash) and its lineage
            options["invocation_logs"] = logs
        return requested or section.base_model_id, options

    def create(self, rft: Any, **kw: Any) -> Any:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.backends.bedrock.commands import (
            make_backend,  # the CLI's clock and sleep (tests replace them)
        )

        return make_backend(rft, **kw)

    def model_tags(self, record: Mapping[str, Any]) -> dict[str, str]:
        return {"rftlab.custom_model_arn": str(record["model_id"])} if record.get("model_id") else {}

    def deploy(self, record: Mapping[str, Any], params: Any, *, job_ref: str | None = None,
               name: str | None = None, echo: Any = print) -> dict[str, Any]:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.backends.bedrock.deploy import (
            deploy_job,  # boto3: only when deploying
        )

        return deploy_job(record, params.rft, job_ref=job_ref, name=name, echo=echo)

    def generators(self, record: Mapping[str, Any], params: Any) -> tuple[Any, Any]:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.aws.converse import ConverseGenerator

        arn = record.get("deployment_arn") or (record.get("details") or {}).get("deployment_arn")
        if not arn:
            raise InputError(f"job {record['job_id']}: no deployment_arn; deploy the tuned model first "
                             "(`rftlab deploy --out data/rft/deployment.json`, the pipeline's deploy stage)")
        region = params.rft.section(self.name).region
        base = params.evaluate.bedrock_base_model_id or record["base_model"]
        return ConverseGenerator(base, region, name="base"), ConverseGenerator(arn, region, name="tuned")

    def rollout_generator(self, spec: Any, params: Any) -> Any:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.aws.converse import ConverseGenerator

        region = spec.options.get("region") or params.rft.section(self.name).region
        return ConverseGenerator(spec.base_model, region, name="base")

    def preflight_estimate(self, prompts: list[dict], n: int, max_tokens: int, params: Any) -> dict[str, float]:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.preflight.rollouts import converse_estimate

        return converse_estimate(prompts, n, max_tokens, params.rft.prices, params.relevance)

    def estimate(self, train: Path, rft: Any) -> Any:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.jobs import cost

        hp = {k: v for k, v in rft.hyperparameters_for(self.name).model_dump().items() if v is not None}
        return cost.estimate_files(train, hp, rft.prices, memory_mb=rft.section(self.name).lambda_memory_mb)

    def trial_estimate_usd(self, spec: Any, rft: Any, durations_min: list[float]) -> float:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.jobs import cost

        est = cost.estimate_files(spec.train_path, spec.hyperparameters, rft.prices,
                                  memory_mb=rft.section(self.name).lambda_memory_mb)
        return float(est.total_usd)

    def progress_line(self, state: Any) -> str:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.backends.bedrock.backend import progress_line

        return progress_line(state)

    def find_job(self, ref: str, rft: Any) -> tuple[Any, Any] | None:
        """A job by its ARN, adopted from AWS when the state store does not hold it (console, other machines)."""
        if not ref.startswith("arn:") or ":model-customization-job/" not in ref:
            return None
        backend = self.create(rft)
        return backend, backend.adopt(ref)

    def register_commands(self, groups: Mapping[str, Any]) -> None:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.backends.bedrock import (
            commands,  # typer commands: only when the CLI starts
        )

        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.backends.bedrock.rehearsal import commands as rehearsal_commands

        commands.register(groups)
        rehearsal_commands.register(groups)
