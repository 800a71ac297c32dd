"""The searched hyperparameters: Optuna distributions from params, and the job's full set.

Pure: no Optuna study, no I/O. Bedrock's ranges are already checked when params.yaml loads
(config.Params), so a Bedrock trial can only propose values botocore's service model allows.
"""

from __future__ import annotations

from typing import Any

INTEGER = {"epochCount", "batchSize", "trainingSamplePerPrompt", "inferenceMaxTokens", "maxPromptLength",
           "evalInterval"}


def distributions(space: dict[str, Any]) -> dict[str, Any]:
    """{name: optuna distribution} for the `search.space` section."""
    # optuna loads only when a study is opened
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    for name, dim in sorted(space.items()):
        if dim.choices is not None:
            out[name] = CategoricalDistribution(list(dim.choices))
        elif name in INTEGER:
            out[name] = IntDistribution(int(dim.low), int(dim.high), log=dim.log)
        else:
            out[name] = FloatDistribution(float(dim.low), float(dim.high), log=dim.log)
    return out


def hyperparameters(base: dict[str, Any], trial_params: dict[str, Any]) -> dict[str, Any]:
    """The job's hyperparameters: the backend's params with the trial's values on top."""
    return {**base, **trial_params}


def describe(trial_params: dict[str, Any]) -> str:
    """`learningRate=0.00031, trainingSamplePerPrompt=4` for log lines and run names."""
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(trial_params.items()))
