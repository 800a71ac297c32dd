"""The `bedrock_open_weight` backend's registration: open-weight models (gpt-oss, Qwen3) fine-tuned
through Amazon Bedrock's OpenAI-compatible fine-tuning API (docs/open_weight.md).

Formerly `openai`, a name that hid that the jobs run on Bedrock; the old name is refused with one
line naming this one. It belongs to the Bedrock family: a Nova id in `rft.base_model` routes to the
`bedrock` backend and an open-weight id routes here, whichever of the two rft.backend names.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rftlab.aws.models import bare_id
from rftlab.backends.bedrock.models import OPEN_WEIGHT_RFT_MODELS
from rftlab.backends.bedrock.plugin import FAMILY
from rftlab.plugins import BackendPlugin

NAME = "bedrock_open_weight"


class OpenWeightPlugin(BackendPlugin):
    name = NAME
    summary = "open-weight models through Amazon Bedrock's OpenAI-compatible fine-tuning API"
    family = FAMILY
    retired_names = ("openai",)
    searchable = False  # the API reports no validation curve to prune on (docs/search.md)

    def params_section(self) -> type:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.backends.bedrock.open_weight.params import OpenWeightBackendParams

        return OpenWeightBackendParams

    def claims_base_model(self, model: str) -> bool:
        return bare_id(model) in OPEN_WEIGHT_RFT_MODELS

    def base_models_help(self) -> str:
        return f"rft.backend {self.name} (the OpenAI-compatible fine-tuning API) takes {', '.join(OPEN_WEIGHT_RFT_MODELS)}"

    def spec(self, rft: Any, requested: str | None) -> tuple[str, dict[str, Any]]:
        section = rft.section(self.name)
        options: dict[str, Any] = {"region": section.region}
        endpoint = section.endpoint  # another endpoint: another job (OPENAI_BASE_URL is never read)
        if endpoint:
            options["endpoint"] = endpoint
        return requested or section.base_model_id, options

    def create(self, rft: Any, **kw: Any) -> Any:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.backends.bedrock.open_weight.backend import (
            OpenWeightBackend,  # the openai client loads with it
        )

        return OpenWeightBackend(rft, **kw)

    def model_tags(self, record: Mapping[str, Any]) -> dict[str, str]:
        return {"rftlab.fine_tuned_model": str(record["model_id"])} if record.get("model_id") else {}

    def deploy(self, record: Mapping[str, Any], params: Any, *, job_ref: str | None = None,
               name: str | None = None, echo: Any = print) -> dict[str, Any]:
        """Nothing to deploy: a fine_tuned_model serves on demand through the same API, "without additional
        deployment steps" (user guide fine-tuning-openai-apis; docs/open_weight.md)."""
        echo(f"open-weight job {record['job_id']}: nothing to deploy; {record.get('model_id')} serves on demand "
             "through the OpenAI-compatible API")
        return {"job_id": record["job_id"], "backend": record["backend"], "model": record.get("model_id")}

    def generators(self, record: Mapping[str, Any], params: Any) -> tuple[Any, Any]:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.backends.bedrock.open_weight.inference import generators

        return generators(dict(record), params.rft)

    def rollout_generator(self, spec: Any, params: Any) -> Any:
        """The base model through the API's chat completions, as AWS's notebooks call it (inference.py)."""
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.backends.bedrock.open_weight.inference import OpenWeightGenerator

        return OpenWeightGenerator(spec.base_model, params.rft.section(self.name), name="base",
                                   endpoint=spec.options.get("endpoint"))

    def preflight_estimate(self, prompts: list[dict], n: int, max_tokens: int, params: Any) -> dict[str, float]:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.preflight.rollouts import converse_estimate

        return converse_estimate(prompts, n, max_tokens, params.rft.prices, params.relevance)

    def estimate(self, train: Path, rft: Any) -> Any:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.backends.bedrock.open_weight.launch import estimate_terms, training_rate
        from rftlab.jobs import cost

        hp = estimate_terms({k: v for k, v in rft.hyperparameters_for(self.name).model_dump().items() if v is not None})
        prices, source = training_rate(rft)
        return cost.estimate_files(train, hp, prices, memory_mb=rft.section(FAMILY).lambda_memory_mb,
                                   training_source=source)

    def progress_line(self, state: Any) -> str:
        # deferred: every CLI start loads the plugin; its modules load when a hook runs
        from rftlab.backends.bedrock.open_weight.backend import progress_line

        return progress_line(state)
