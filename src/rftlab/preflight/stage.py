"""The `preflight` stage: rollouts of the job's base model scored by its grader, before the job.

Writes metrics (`dvc metrics show`), a histogram for `dvc plots` and a PNG, logs one MLflow run
of kind `preflight` tagged with the grader version and the spec hash of the job it precedes
(`rftlab.spec_hash`; the rft-job run records the same hash as its `spec_hash` param), then raises
GateFailed naming each failed figure, its threshold and what to change. Nothing is written
when the inputs are unusable (one-line InputError).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

from rftlab.errors import GateFailed
from rftlab.io import file_md5, write_json
from rftlab.preflight.figures import figures, total_steps
from rftlab.preflight.rollouts import (
    BEDROCK_TEMPERATURE, bedrock_estimate, checks, failure, sample_prompts, score_rollouts, target_bar,
)

log = logging.getLogger(__name__)
SPEC_HASH = "rftlab.spec_hash"


def _generator(spec: Any, params: Any, generator: Any) -> tuple[Any, float]:
    """(generator, temperature) for the job's base model."""
    if spec.backend == "local":
        from rftlab.evaluate.generate import LocalGenerator

        return generator or LocalGenerator(spec.base_model, name="base"), float(spec.options.get("temperature", 1.0))
    from rftlab.evaluate.generate import BedrockGenerator

    region = spec.options.get("region") or params.rft.bedrock.region
    return generator or BedrockGenerator(spec.base_model, region, name="base"), BEDROCK_TEMPERATURE


def run_preflight(params: Any, *, train: str, grader_path: str, metrics_path: str | None = None,
                  plots_dir: str | None = None, base_model: str | None = None, generator: Any = None,
                  track: bool = True) -> dict[str, Any]:
    """Run the stage; returns the metrics (also on failure, in the GateFailed message's figures)."""
    from rftlab import tracking
    from rftlab.grader.bundle import load_grader
    from rftlab.jobs.cost import BudgetExceeded
    from rftlab.jobs.stage import build_spec

    cfg = params.preflight
    spec = build_spec(params.rft, train=train, val=None, grader=grader_path, base_model=base_model)
    grader = load_grader(grader_path)
    if spec.backend == "local":
        grader.offline()  # the local loop judges relevance with the proxy, as its training will
    prompts, records = sample_prompts(train, cfg.prompts, cfg.seed)
    median, p90, n_refs = target_bar(grader, prompts)
    hp = spec.hyperparameters
    n = int(hp.get("trainingSamplePerPrompt") or 4)
    max_tokens = int(hp.get("inferenceMaxTokens") or 32)
    gen, temperature = _generator(spec, params, generator)
    cost: dict[str, float] = {}
    if spec.backend != "local":
        cost = bedrock_estimate(prompts, n, max_tokens, params.rft.prices, params.relevance)
        if cost["total_usd"] > cfg.max_usd:
            raise BudgetExceeded(f"preflight: estimated Bedrock cost ${cost['total_usd']:.2f} (estimate) is above "
                                 f"preflight.max_usd ${cfg.max_usd:.2f}; lower preflight.prompts or raise the cap")
    log.info("preflight: %d prompts x %d rollouts from %s", len(prompts), n, spec.base_model)
    completions = gen.generate([r["messages"] for r in prompts], n=n, temperature=temperature,
                               max_tokens=max_tokens, seed=cfg.seed)
    groups = score_rollouts(grader, prompts, completions)
    per_step = int(hp.get("batchSize") or hp.get("batch_size") or 1)
    figs = figures(groups, flat_std=cfg.flat_std, median=median, p90=p90, prompts_per_step=per_step,
                   steps=total_steps(records, hp, spec.options.get("max_steps")))
    used = {"input_tokens": sum(c.prompt_tokens for cs in completions for c in cs),
            "output_tokens": sum(c.completion_tokens for cs in completions for c in cs)}
    found = checks(figs, cfg)
    metrics: dict[str, Any] = {
        **figs, **({f"estimate_{k}": v for k, v in cost.items()}), **used, "n_references": n_refs,
        "samples_per_prompt": n, "temperature": temperature, "max_tokens": max_tokens, "backend": spec.backend,
        "base_model": spec.base_model, "grader_version": grader.version, "spec_hash": spec.spec_hash(),
        "passed": all(c.passed for c in found),
        "checks": {c.name: {"value": c.value, "threshold": c.threshold, "passed": c.passed} for c in found},
    }
    report = "\n".join([f"preflight ({spec.backend} {spec.base_model}, grader {grader.version}): "
                        f"{figs['prompts']} prompts x {n} rollouts, temperature {temperature:g}",
                        *(c.line() for c in found),
                        f"info above_p90_share           {figs['above_p90_share']:.4f}  (hacking ceiling: style above "
                        f"the target's p90 {p90:.4f})",
                        f"info steps_with_signal         {figs['steps_with_signal']:.1f} of {figs['steps']} steps"])
    ctx = (tracking.stage_run("preflight", run_name=f"preflight-{spec.spec_hash()[:12]}",
                              params={"backend": spec.backend, "base_model": spec.base_model, "prompts": len(prompts),
                                      "samples_per_prompt": n, "temperature": temperature, "max_tokens": max_tokens,
                                      "seed": cfg.seed, "flat_std": cfg.flat_std,
                                      "max_flat_share": cfg.max_flat_share, "min_mean_std": cfg.min_mean_std,
                                      "max_done_share": cfg.max_done_share, "enforce": cfg.enforce, "train_md5": file_md5(train)},
                              tags={tracking.GRADER_VERSION: grader.version, tracking.BACKEND: spec.backend,
                                    SPEC_HASH: spec.spec_hash()},
                              deps={"train": train, "grader": grader_path})
           if track else contextlib.nullcontext())
    with ctx as run:
        if metrics_path:
            write_json(metrics_path, {k: v for k, v in metrics.items() if k != "histogram"})
        if plots_dir:
            _plots(Path(plots_dir), figs, groups, run is not None)
        if run is not None:
            tracking.log_metrics({k: v for k, v in metrics.items()
                                  if isinstance(v, (int, float)) and not isinstance(v, bool)})
            tracking.log_table({"prompt_id": [r.prompt_id for g in groups for r in g],
                                "prompt": [r.prompt for g in groups for r in g],
                                "completion": [r.text for g in groups for r in g],
                                "reward": [r.reward for g in groups for r in g],
                                "style": [r.style for g in groups for r in g],
                                "relevance": [r.relevance for g in groups for r in g]}, "preflight/rollouts.json")
            tracking.log_text(report + "\n", "preflight/report.txt")
            tracking.set_tags({"rftlab.preflight_passed": str(metrics["passed"]).lower()})
    metrics["report"] = report
    if not metrics["passed"]:
        if cfg.enforce:
            raise GateFailed(failure([c for c in found if not c.passed]) + "\n" + report)
        log.warning("%s (preflight.enforce is false: going on)", failure([c for c in found if not c.passed]))
    return metrics


def _plots(folder: Path, figs: dict[str, Any], groups: list, log_to_mlflow: bool) -> None:
    """scores.json (DVC plot rows: the reward histogram) and preflight.png (histogram, per-prompt spread)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from rftlab import tracking
    from rftlab.io import atomic_path

    write_json(folder / "scores.json", figs["histogram"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    rewards = [r.reward for g in groups for r in g]
    axes[0].hist(rewards, bins=np.linspace(0, 1, 21), color="tab:blue", alpha=0.8)
    axes[0].axvline(figs["target_median"], color="r", ls="--", label="target median (style)")
    axes[0].axvline(figs["target_p90"], color="k", ls=":", label="target p90 (style)")
    axes[0].set(xlabel="reward", ylabel="rollouts", title="base-model rollouts")
    axes[0].legend(fontsize="small")
    stds = sorted(float(np.std([r.reward for r in g])) for g in groups if g)
    axes[1].plot(range(len(stds)), stds, marker=".")
    axes[1].set(xlabel="prompt (sorted)", ylabel="reward std within the prompt", title="spread per prompt (GRPO signal)")
    fig.tight_layout()
    with atomic_path(folder / "preflight.png") as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    if log_to_mlflow:
        for name in ("scores.json", "preflight.png"):
            tracking.log_artifact(folder / name, "preflight")
