"""The `evaluate` stage (dvc.yaml `evaluate`): base vs tuned on the held-out prompts, scored by the job's
own grader. Shape: rftlab.stage (docs/architecture.md).

Each evaluation is its own MLflow run (kind `evaluation`) nested under the job's run, and
re-evaluating replaces it (rftlab.evaluate.record). The DVC outputs (metrics, report, plots) are a
function of the stage's inputs alone: no run id, no timing (a job priced by wall time has its
inference cost in MLflow only), and the reward curve comes from the job record.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rftlab import contracts, plugins
from rftlab.config import Params
from rftlab.evaluate import axes, plots, report
from rftlab.evaluate import metrics as M
from rftlab.evaluate import record as evaluation_record
from rftlab.evaluate.compare import compare
from rftlab.evaluate.inputs import (
    load_job_grader,
    make_generators,
    read_job,
    with_deployment,
)
from rftlab.evaluate.judge import Judge
from rftlab.evaluate.scoring import (
    judge_all,
    score_completions,
    side_by_side,
    side_figures,
    write_per_prompt,
)
from rftlab.headline import write_headline
from rftlab.io import file_md5, write_json
from rftlab.prompts.records import prompt_text, read_prompts, reference_text
from rftlab.stage import PASS, Verdict
from rftlab.tracking import experiment, tuned

log = logging.getLogger(__name__)
KIND = contracts.EVALUATION
WALL_TIME = ("eval/base_cost_usd", "eval/tuned_cost_usd", "eval/inference_cost_usd")


@dataclass(frozen=True)
class Paths:
    job: Path = Path("data/rft/job.json")
    deployment: Path | None = None
    val: Path = Path("data/prompts/val.jsonl")
    metrics: Path = Path("metrics/evaluate.json")
    plots: Path = Path("plots/evaluate")
    report: Path | None = None
    headline: Path | None = None


@dataclass
class Inputs:
    job: dict
    plugin: plugins.BackendPlugin
    reward: dict[str, list[tuple[int, float]]]
    prompts: list[dict]
    grader: Any
    generators: tuple[Any, Any]
    judge: Any


@dataclass
class Result:
    graded: dict[str, list[list[dict]]]
    metrics: dict[str, Any]                     # every figure (MLflow)
    stable: dict[str, Any]                      # the figures a rerun reproduces (DVC outputs)
    figures: dict[str, Any] = field(default_factory=dict)
    table: dict[str, list] = field(default_factory=dict)


def read_inputs(params: Params, paths: Paths, *, generators: Any = None, grader: Any = None,
                judge: Any = None) -> Inputs:
    cfg = params.evaluate
    job = with_deployment(read_job(paths.job), paths.deployment)
    plugin = plugins.backend(job["backend"], key=f"job {job['job_id']}: backend")
    reward = evaluation_record.reward_curves(job, paths.job)  # before generating: an unlinkable record fails fast
    prompts = read_prompts(paths.val, cfg.max_prompts)
    grader = grader if grader is not None else load_job_grader(job)
    if plugin.offline_relevance and hasattr(grader, "offline"):
        grader.offline()  # trained on the relevance proxy: judged the same way, no Bedrock call
    if judge is None and cfg.judge.enabled:
        judge = Judge(cfg.judge.model_id, cfg.judge.rubric, cfg.judge.region)
    return Inputs(job, plugin, reward, prompts, grader, generators or make_generators(job, params), judge)


def compute(inputs: Inputs, params: Params) -> Result:
    cfg, prompts = params.evaluate, inputs.prompts
    msgs = [r["messages"] for r in prompts]
    kw = dict(n=cfg.samples_per_prompt, temperature=cfg.temperature, max_tokens=cfg.max_tokens, seed=cfg.seed)
    graded, hours = {}, {}
    for side, gen in zip(("base", "tuned"), inputs.generators, strict=True):
        log.info("generating %d x %d samples from the %s model", len(msgs), cfg.samples_per_prompt, side)
        t0 = time.monotonic()
        graded[side] = score_completions(inputs.grader, prompts, gen.generate(msgs, **kw))
        hours[side] = (time.monotonic() - t0) / 3600.0
        if inputs.judge is not None:
            judge_all(inputs.judge, prompts, graded[side])
    # the second axis: relevance beside style, and the hacking flags
    p90 = axes.annotate(inputs.grader, [prompt_text(r) for r in prompts], [reference_text(r) for r in prompts], graded)
    base, tuned_ = ([[s["score"] for s in samples] for samples in graded[side]] for side in ("base", "tuned"))
    result: dict[str, Any] = M.summarize(base, tuned_, bootstrap=cfg.bootstrap, seed=cfg.seed)
    result.update(axes.metrics(graded, p90))
    pr = params.rft.prices
    prices = {"in": pr.inference_usd_per_1k_input_tokens, "out": pr.inference_usd_per_1k_output_tokens}
    by_tokens = inputs.plugin.priced_by_tokens
    hourly = float(getattr(params.rft.section(inputs.job["backend"]), "hourly_usd", 0.0) or 0.0)  # wall-time pricing
    for side in ("base", "tuned"):
        result.update(side_figures(graded[side], side, prices if by_tokens else None, hours[side], hourly))
    result["eval/inference_cost_usd"] = result["eval/base_cost_usd"] + result["eval/tuned_cost_usd"]
    result["eval/tokens_total"] = sum(result[f"eval/{s}_{k}_tokens"] for s in ("base", "tuned")
                                      for k in ("prompt", "completion"))
    # wall-time costs go to MLflow only: DVC outputs must not change with the machine's load
    timed = set() if by_tokens else set(WALL_TIME)
    stable = {k: v for k, v in result.items() if v is not None and k not in timed}
    name = inputs.job["job_id"]
    figures = {"score_hist": plots.score_histogram([x for s in base for x in s], [x for s in tuned_ for x in s],
                                                   title=f"{name}: sample scores"),
               "reward_curve": plots.reward_curves({k: v for k, v in inputs.reward.items() if v}, title=f"{name}: reward"),
               "style_relevance": axes.figure(graded, title=f"{name}: style and relevance")}
    return Result(graded, result, stable, figures, side_by_side(prompts, graded["base"], graded["tuned"]))


def gate(result: Result) -> Verdict:
    return PASS  # evaluation reports; it does not stop the pipeline


def write_outputs(result: Result, inputs: Inputs, paths: Paths) -> None:
    images = [plots.save(result.figures[name], paths.plots / f"{name}.png")
              for name in ("score_hist", "reward_curve", "style_relevance")]
    base, tuned_ = ([[s["score"] for s in samples] for samples in result.graded[side]] for side in ("base", "tuned"))
    write_per_prompt(paths.plots / "per_prompt.csv", inputs.prompts, base, tuned_)
    out = {**result.stable, "job_id": inputs.job["job_id"]}
    if paths.report:
        report.write(paths.report, inputs.job, result.stable, result.table, images)
    write_json(paths.metrics, out)
    if paths.headline:
        write_headline(paths.headline, "evaluate", out)


def record(result: Result, inputs: Inputs, params: Params, paths: Paths) -> str:
    """The evaluation run under the job's run; the tuned model's version gets the evaluation (alias
    `best` follows the uplift); the job view and the comparison report are brought up to date (display
    only: a failure there is a warning). Returns the evaluation run's id."""
    eval_params = {**params.evaluate.model_dump(mode="json"), "val_path": str(paths.val), "val_md5": file_md5(paths.val)}
    figures = {k: v for k, v in result.figures.items() if k != "style_relevance"}
    run_id = evaluation_record.log_evaluation(inputs.job, paths.job, result.metrics, eval_params, grader=inputs.grader,
                                              judge=inputs.judge, table=result.table, graded=result.graded,
                                              figures=figures)
    metrics = {**result.metrics, "job_id": inputs.job["job_id"]}
    try:
        tuned.record_evaluation(inputs.job["job_id"], metrics)
    except Exception as exc:
        log.warning("tuned model version not tagged with the evaluation: %s", exc)
    experiment.refresh()
    try:
        compare(log=True)
    except Exception as exc:
        log.warning("comparison report not refreshed in MLflow: %s", exc)
    return run_id


def run(params: Params, paths: Paths, *, generators: Any = None, grader: Any = None, judge: Any = None,
        track: bool = True) -> dict[str, Any]:
    """Run the stage; returns every metric (also those only MLflow keeps) and the evaluation run's id."""
    inputs = read_inputs(params, paths, generators=generators, grader=grader, judge=judge)
    result = compute(inputs, params)
    verdict = gate(result)
    write_outputs(result, inputs, paths)
    run_id = record(result, inputs, params, paths) if track else None
    verdict.raise_if_failed(KIND)
    return {**result.stable, "job_id": inputs.job["job_id"],
            **{k: v for k, v in result.metrics.items() if v is not None}, "run_id": run_id}
