"""The `preflight` stage (dvc.yaml `preflight`): rollouts of the job's base model scored by its grader,
before the job: do they give GRPO anything to learn? Shape: rftlab.stage (docs/architecture.md).

Writes metrics (`dvc metrics show`), a histogram for `dvc plots` and a PNG, logs one MLflow run of
kind `preflight` tagged with the grader version and the spec hash of the job it precedes
(`rftlab.spec_hash`; the rft-job run records the same hash), then raises GateFailed naming each
failed figure, its threshold and what to change (or, with `preflight.enforce: false`, warns).
Nothing is written when the inputs are unusable (one-line InputError).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rftlab import contracts, plugins, tracking
from rftlab.grader.bundle import load_grader
from rftlab.headline import write_headline
from rftlab.io import file_md5, write_json
from rftlab.jobs.cost import BudgetExceeded
from rftlab.jobs.spec import JobSpec, build_spec
from rftlab.preflight import plots
from rftlab.preflight.figures import ADVICE, figures, total_steps
from rftlab.preflight.rollouts import checks, sample_prompts, score_rollouts, target_bar
from rftlab.stage import Verdict, stage_record

log = logging.getLogger(__name__)
KIND = contracts.PREFLIGHT
SPEC_HASH = contracts.SPEC_HASH


@dataclass
class Inputs:
    spec: JobSpec
    plugin: plugins.BackendPlugin
    grader: Any
    prompts: list[dict]
    records: int
    generator: Any
    train: str
    grader_path: str


@dataclass
class Result:
    metrics: dict[str, Any]
    groups: list = field(default_factory=list)
    report: str = ""


def read_inputs(params: Any, *, train: str, grader_path: str, base_model: str | None, generator: Any) -> Inputs:
    cfg = params.preflight
    spec = build_spec(params.rft, train=train, val=None, grader=grader_path, base_model=base_model)
    plugin = plugins.backend(spec.backend)
    grader = load_grader(grader_path)
    if plugin.offline_relevance:
        grader.offline()  # the job judges relevance with the offline proxy, as its training will
    prompts, records = sample_prompts(train, cfg.prompts, cfg.seed)
    return Inputs(spec, plugin, grader, prompts, records, generator or plugin.rollout_generator(spec, params),
                  train, grader_path)


def compute(inputs: Inputs, params: Any) -> Result:
    cfg, spec = params.preflight, inputs.spec
    median, p90, n_refs = target_bar(inputs.grader, inputs.prompts)
    hp = spec.hyperparameters
    n = int(hp.get("trainingSamplePerPrompt") or 4)
    max_tokens = int(hp.get("inferenceMaxTokens") or 32)
    temperature = inputs.plugin.rollout_temperature(spec)
    cost = inputs.plugin.preflight_estimate(inputs.prompts, n, max_tokens, params)
    if cost and cost["total_usd"] > cfg.max_usd:
        raise BudgetExceeded(f"preflight: estimated {spec.backend} cost ${cost['total_usd']:.2f} (estimate) is above "
                             f"preflight.max_usd ${cfg.max_usd:.2f}; lower preflight.prompts or raise the cap")
    log.info("preflight: %d prompts x %d rollouts from %s", len(inputs.prompts), n, spec.base_model)
    completions = inputs.generator.generate([r["messages"] for r in inputs.prompts], n=n, temperature=temperature,
                                            max_tokens=max_tokens, seed=cfg.seed)
    groups = score_rollouts(inputs.grader, inputs.prompts, completions)
    per_step = int(hp.get("batchSize") or hp.get("batch_size") or 1)
    figs = figures(groups, flat_std=cfg.flat_std, median=median, p90=p90, prompts_per_step=per_step,
                   steps=total_steps(inputs.records, hp, spec.options.get("max_steps")))
    used = {"input_tokens": sum(c.prompt_tokens for cs in completions for c in cs),
            "output_tokens": sum(c.completion_tokens for cs in completions for c in cs)}
    metrics: dict[str, Any] = {
        **figs, **({f"estimate_{k}": v for k, v in cost.items()}), **used, "n_references": n_refs,
        "samples_per_prompt": n, "temperature": temperature, "max_tokens": max_tokens, "backend": spec.backend,
        "base_model": spec.base_model, "grader_version": inputs.grader.version, "spec_hash": spec.spec_hash(),
    }
    return Result(metrics, groups)


def gate(result: Result, cfg: Any) -> Verdict:
    verdict = Verdict(tuple(checks(result.metrics, cfg)), enforce=cfg.enforce)
    figs, spec_line = result.metrics, f"{result.metrics['backend']} {result.metrics['base_model']}"
    result.metrics["passed"] = verdict.passed
    result.metrics["checks"] = verdict.as_dict()
    result.report = "\n".join([
        f"preflight ({spec_line}, grader {figs['grader_version']}): {figs['prompts']} prompts x "
        f"{figs['samples_per_prompt']} rollouts, temperature {figs['temperature']:g}",
        *verdict.lines(),
        f"info above_p90_share           {figs['above_p90_share']:.4f}  (hacking ceiling: style above "
        f"the target's p90 {figs['target_p90']:.4f})",
        f"info steps_with_signal         {figs['steps_with_signal']:.1f} of {figs['steps']} steps"])
    return verdict


def write_outputs(result: Result, *, metrics_path: str | None, headline: str | None, plots_dir: str | None) -> None:
    if metrics_path:
        write_json(metrics_path, {k: v for k, v in result.metrics.items() if k != "histogram"})
    if headline:
        write_headline(headline, KIND, result.metrics)
    if plots_dir:
        plots.write(Path(plots_dir), result.metrics, result.groups)


def record(result: Result, plots_dir: str | None) -> None:
    m = result.metrics
    tracking.log_metrics({k: v for k, v in m.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
    rows = [r for g in result.groups for r in g]
    tracking.log_table({"prompt_id": [r.prompt_id for r in rows], "prompt": [r.prompt for r in rows],
                        "completion": [r.text for r in rows], "reward": [r.reward for r in rows],
                        "style": [r.style for r in rows], "relevance": [r.relevance for r in rows]},
                       "preflight/rollouts.json")
    tracking.log_text(result.report + "\n", "preflight/report.txt")
    tracking.set_tags({"rftlab.preflight_passed": str(m["passed"]).lower()})
    if plots_dir:
        for name in plots.FILES:
            tracking.log_artifact(Path(plots_dir) / name, "preflight")


def run(params: Any, *, train: str, grader_path: str, metrics_path: str | None = None, headline: str | None = None,
        plots_dir: str | None = None, base_model: str | None = None, generator: Any = None,
        track: bool = True) -> dict[str, Any]:
    """Run the stage; returns the metrics (with `report`), also when the gate failed unenforced."""
    cfg = params.preflight
    inputs = read_inputs(params, train=train, grader_path=grader_path, base_model=base_model, generator=generator)
    spec = inputs.spec
    settings = {"backend": spec.backend, "base_model": spec.base_model, "prompts": len(inputs.prompts),
                "samples_per_prompt": int(spec.hyperparameters.get("trainingSamplePerPrompt") or 4),
                "temperature": inputs.plugin.rollout_temperature(spec),
                "max_tokens": int(spec.hyperparameters.get("inferenceMaxTokens") or 32), "seed": cfg.seed,
                "flat_std": cfg.flat_std, "max_flat_share": cfg.max_flat_share, "min_mean_std": cfg.min_mean_std,
                "max_done_share": cfg.max_done_share, "enforce": cfg.enforce, "train_md5": file_md5(train)}
    tags = {contracts.GRADER_VERSION: inputs.grader.version, contracts.BACKEND: spec.backend, SPEC_HASH: spec.spec_hash()}
    with stage_record(KIND, track=track, run_name=f"preflight-{spec.spec_hash()[:12]}", params=settings, tags=tags,
                      deps={"train": train, "grader": grader_path}) as run_:
        result = compute(inputs, params)
        verdict = gate(result, cfg)
        write_outputs(result, metrics_path=metrics_path, headline=headline, plots_dir=plots_dir)
        if run_ is not None:
            record(result, plots_dir)
    if not verdict.passed and not verdict.enforce:
        log.warning("preflight failed (preflight.enforce is false: going on): %s",
                    "; ".join(c.failure() for c in verdict.failed))
    verdict.raise_if_failed(KIND, result.report, advice=ADVICE)
    return {**result.metrics, "report": result.report}
