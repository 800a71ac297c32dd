"""The `evaluate` stage: base vs tuned on the held-out prompts, scored by the job's own grader.

Each evaluation is its own MLflow run (kind `evaluation`) nested under the job's run, and
re-evaluating replaces it (rftlab.evaluate.record). The DVC outputs (metrics, report, plots) are
a function of the stage's inputs alone: no run id, no timing (a local job's inference cost is
wall time, so it goes to MLflow only), and the reward curve comes from the job record.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from rftlab.config import Params, project_root
from rftlab.errors import InputError
from rftlab.evaluate import metrics as M
from rftlab.evaluate.generate import BedrockGenerator, Completion, Generator, LocalGenerator

log = logging.getLogger(__name__)

JOB_FIELDS = ("job_id", "backend", "status", "base_model", "model_id", "grader_path")


def read_job(path: str | Path) -> dict:
    """The job record written by the rft stage; checks the fields evaluation relies on."""
    from rftlab.io import read_json

    job = read_json(path)
    if not isinstance(job, dict):
        raise InputError(f"{path}: expected a JSON object (the job record)")
    missing = [k for k in JOB_FIELDS if not job.get(k)]
    if missing:
        raise InputError(f"{path}: missing field(s) {', '.join(missing)}")
    if job["status"] != "Completed":
        raise InputError(f"{path}: job {job['job_id']} is {job['status']}, not Completed; nothing to evaluate yet")
    return job


def with_deployment(job: dict, path: str | Path | None) -> dict:
    """The job record plus what the deploy stage recorded (the deployment ARN for a Bedrock job)."""
    from rftlab.io import read_json

    if path is None or not Path(path).exists():
        return job
    dep = read_json(path)
    if not isinstance(dep, dict) or dep.get("job_id") != job["job_id"]:
        raise InputError(f"{path}: the deployment record is not for job {job['job_id']}; run `rftlab deploy --out {path}`")
    return {**job, **{k: v for k, v in dep.items() if k == "deployment_arn" and v}}


def read_prompts(path: str | Path, max_prompts: int | None = None) -> list[dict]:
    from rftlab.io import iter_jsonl

    rows = []
    for i, row in enumerate(iter_jsonl(path, required=("messages",)), start=1):
        msgs = row["messages"]
        if not isinstance(msgs, list) or not any(isinstance(m, dict) and m.get("role") == "user" for m in msgs):
            raise InputError(f"{path}: record {i}: messages must be a list with a user message")
        row.setdefault("id", str(i))
        rows.append(row)
        if max_prompts and len(rows) >= max_prompts:
            break
    if not rows:
        raise InputError(f"{path}: no prompts")
    return rows


def prompt_text(record: dict) -> str:
    users = [m for m in record["messages"] if isinstance(m, dict) and m.get("role") == "user"]
    return str(users[-1].get("content", "")) if users else ""


def reference_text(record: dict) -> str | None:
    ref = record.get("reference_answer")
    if ref is None or isinstance(ref, str):
        return ref
    return str(ref.get("text") or ref.get("content") or ref) if isinstance(ref, dict) else str(ref)


def _local_path(p: str) -> Path:
    path = Path(p)
    return path if path.is_absolute() or path.exists() else project_root() / path


def load_job_grader(job: dict) -> Any:
    """The grader bundle the job trained against; refuses a bundle whose version differs."""
    from rftlab.grader.bundle import load_grader

    path = _local_path(job["grader_path"])
    if not path.exists():
        raise InputError(f"job {job['job_id']}: grader bundle {path} not found")
    grader = load_grader(path)
    want = job.get("grader_version")
    if want and grader.version != want:
        raise InputError(
            f"{path}: grader version {grader.version} differs from {want}, the one job {job['job_id']} "
            "trained against; restore that bundle (e.g. `dvc checkout`) before evaluating"
        )
    if not want:
        log.warning("job %s records no grader_version; scoring with %s", job["job_id"], grader.version)
    return grader


def make_generators(job: dict, params: Params) -> tuple[Generator, Generator]:
    if job["backend"] == "local":
        tuned = job.get("model_path") or job["model_id"]  # the stage's copy (data/rft/model) first
        if not _local_path(tuned).exists():
            tuned = job["model_id"]
        return (LocalGenerator(_local_path(job["base_model"]), name="base"),
                LocalGenerator(_local_path(tuned), name="tuned"))
    if job["backend"] == "bedrock":
        arn = job.get("deployment_arn") or (job.get("details") or {}).get("deployment_arn")
        if not arn:
            raise InputError(f"job {job['job_id']}: no deployment_arn; deploy the tuned model first "
                             "(`rftlab deploy --out data/rft/deployment.json`, the pipeline's deploy stage)")
        region = params.rft.bedrock.region
        base = params.evaluate.bedrock_base_model_id or job["base_model"]
        return BedrockGenerator(base, region, name="base"), BedrockGenerator(arn, region, name="tuned")
    if job["backend"] == "openai":  # open-weight models: chat completions on the OpenAI-compatible endpoint
        from rftlab.jobs.openai.inference import generators

        return generators(job, params.rft)
    raise InputError(f"job {job['job_id']}: unknown backend {job['backend']!r}")


def score_completions(grader: Any, prompts: list[dict], completions: list[list[Completion]]) -> list[list[dict]]:
    """Grade every sample with its prompt and reference; one dict per sample."""
    out = []
    for record, samples in zip(prompts, completions, strict=True):
        p, ref = prompt_text(record), reference_text(record)
        rows = []
        for c in samples:
            score, comps = grader.score(c.text, prompt=p, reference=ref)
            rows.append({**c.to_dict(), "score": float(score), "components": dict(comps or {})})
        out.append(rows)
    return out


def _judge_all(judge: Any, prompts: list[dict], graded: list[list[dict]]) -> None:
    for record, samples in zip(prompts, graded, strict=True):
        for s in samples:
            v = judge.judge(prompt_text(record), s["text"])
            s["judge"] = v.to_dict()


def _side(graded: list[list[dict]], prefix: str, prices: dict | None, hours: float, hourly: float) -> dict:
    flat = [s for samples in graded for s in samples]
    pt = sum(s["prompt_tokens"] for s in flat)
    ct = sum(s["completion_tokens"] for s in flat)
    out: dict[str, float | None] = {f"eval/{prefix}_prompt_tokens": float(pt), f"eval/{prefix}_completion_tokens": float(ct)}
    for name, value in M.component_means([s["components"] for s in flat]).items():
        out[f"eval/{prefix}/{name}"] = value
    if any("judge" in s for s in flat):
        out[f"eval/judge_{prefix}_mean"] = M.mean([s["judge"]["score"] for s in flat])
        out[f"eval/judge_{prefix}_failures"] = float(sum(not s["judge"]["ok"] for s in flat))
    cost = M.inference_cost(pt, ct, usd_per_1k_input=prices["in"], usd_per_1k_output=prices["out"]) if prices else hours * hourly
    out[f"eval/{prefix}_cost_usd"] = cost
    return out


def side_by_side(prompts: list[dict], base: list[list[dict]], tuned: list[list[dict]]) -> dict[str, list]:
    """Columns for mlflow.log_table: one row per prompt and sample index."""
    cols: dict[str, list] = {k: [] for k in ("prompt_id", "sample", "prompt", "reference", "base", "base_score", "tuned", "tuned_score")}
    judged = any("judge" in s for samples in base + tuned for s in samples)
    if judged:
        cols.update({"base_judge": [], "tuned_judge": []})
    both_axes = any("relevance" in s for samples in base + tuned for s in samples)  # evaluate/axes.py
    if both_axes:
        cols.update({"base_relevance": [], "tuned_relevance": [], "tuned_flags": []})
    for record, bs, ts in zip(prompts, base, tuned, strict=True):
        for k in range(max(len(bs), len(ts))):
            b = bs[k] if k < len(bs) else {}
            t = ts[k] if k < len(ts) else {}
            cols["prompt_id"].append(str(record.get("id")))
            cols["sample"].append(k)
            cols["prompt"].append(prompt_text(record))
            cols["reference"].append(reference_text(record) or "")
            cols["base"].append(b.get("text", ""))
            cols["base_score"].append(round(b.get("score", 0.0), 4))
            cols["tuned"].append(t.get("text", ""))
            cols["tuned_score"].append(round(t.get("score", 0.0), 4))
            if judged:
                cols["base_judge"].append(b.get("judge", {}).get("score"))
                cols["tuned_judge"].append(t.get("judge", {}).get("score"))
            if both_axes:
                cols["base_relevance"].append(b.get("relevance"))
                cols["tuned_relevance"].append(t.get("relevance"))
                cols["tuned_flags"].append("; ".join(t.get("hacking") or []))
    return cols


def evaluate(
    params: Params,
    *,
    job_path: str | Path = "data/rft/job.json",
    deployment_path: str | Path | None = None,
    val_path: str | Path = "data/prompts/val.jsonl",
    metrics_path: str | Path = "metrics/evaluate.json",
    plots_dir: str | Path = "plots/evaluate",
    report_path: str | Path | None = None,
    generators: tuple[Generator, Generator] | None = None,
    grader: Any = None,
    judge: Any = None,
) -> dict[str, Any]:
    """Run the stage; returns the metrics written to MLflow and `metrics_path`."""
    from rftlab.evaluate import plots, record
    from rftlab.io import file_md5, write_json

    cfg = params.evaluate
    job = with_deployment(read_job(job_path), deployment_path)
    reward = record.reward_curves(job, job_path)  # before generating: a record that cannot be linked fails fast
    prompts = read_prompts(val_path, cfg.max_prompts)
    grader = grader if grader is not None else load_job_grader(job)
    if job["backend"] == "local" and hasattr(grader, "offline"):
        grader.offline()  # a local job was trained on the relevance proxy: judged the same way, no Bedrock call
    base_gen, tuned_gen = generators or make_generators(job, params)
    if judge is None and cfg.judge.enabled:
        from rftlab.evaluate.judge import Judge

        judge = Judge(cfg.judge.model_id, cfg.judge.rubric, params.rft.bedrock.region)

    msgs = [r["messages"] for r in prompts]
    kw = dict(n=cfg.samples_per_prompt, temperature=cfg.temperature, max_tokens=cfg.max_tokens, seed=cfg.seed)
    graded, hours = {}, {}
    for side, gen in (("base", base_gen), ("tuned", tuned_gen)):
        log.info("generating %d x %d samples from the %s model", len(msgs), cfg.samples_per_prompt, side)
        t0 = time.monotonic()
        graded[side] = score_completions(grader, prompts, gen.generate(msgs, **kw))
        hours[side] = (time.monotonic() - t0) / 3600.0
        if judge is not None:
            _judge_all(judge, prompts, graded[side])

    from rftlab.evaluate import axes  # the second axis: relevance beside style, and the hacking flags

    p90 = axes.annotate(grader, [prompt_text(r) for r in prompts], [reference_text(r) for r in prompts], graded)
    base_scores = [[s["score"] for s in samples] for samples in graded["base"]]
    tuned_scores = [[s["score"] for s in samples] for samples in graded["tuned"]]
    result: dict[str, Any] = M.summarize(base_scores, tuned_scores, bootstrap=cfg.bootstrap, seed=cfg.seed)
    result.update(axes.metrics(graded, p90))
    pr = params.rft.prices
    prices = {"in": pr.inference_usd_per_1k_input_tokens, "out": pr.inference_usd_per_1k_output_tokens}
    by_tokens = job["backend"] == "bedrock"
    for side in ("base", "tuned"):
        result.update(_side(graded[side], side, prices if by_tokens else None, hours[side], params.rft.local.hourly_usd))
    result["eval/inference_cost_usd"] = result["eval/base_cost_usd"] + result["eval/tuned_cost_usd"]
    result["eval/tokens_total"] = sum(result[f"eval/{s}_{k}_tokens"] for s in ("base", "tuned") for k in ("prompt", "completion"))
    # wall-time costs (local backend) go to MLflow only: DVC outputs must not change with the machine's load
    timed = set() if by_tokens else {"eval/base_cost_usd", "eval/tuned_cost_usd", "eval/inference_cost_usd"}
    stable = {k: v for k, v in result.items() if v is not None and k not in timed}

    hist = plots.score_histogram([x for s in base_scores for x in s], [x for s in tuned_scores for x in s],
                                 title=f"{job['job_id']}: sample scores")
    curve = plots.reward_curves({k: v for k, v in reward.items() if v}, title=f"{job['job_id']}: reward")
    eval_params = {**cfg.model_dump(mode="json"), "val_path": str(val_path), "val_md5": file_md5(val_path)}
    table = side_by_side(prompts, graded["base"], graded["tuned"])
    run_id = record.log_evaluation(job, job_path, result, eval_params, grader=grader, judge=judge, table=table,
                                   graded=graded, figures={"score_hist": hist, "reward_curve": curve})

    plots_dir = Path(plots_dir)
    images = [plots.save(hist, plots_dir / "score_hist.png"), plots.save(curve, plots_dir / "reward_curve.png")]
    images.append(plots.save(axes.figure(graded, title=f"{job['job_id']}: style and relevance"),
                             plots_dir / "style_relevance.png"))
    _write_per_prompt(plots_dir / "per_prompt.csv", prompts, base_scores, tuned_scores)
    out = {**stable, "job_id": job["job_id"]}
    if report_path:
        from rftlab.evaluate import report

        report.write(report_path, job, stable, table, images)
    write_json(metrics_path, out)
    return {**out, **{k: v for k, v in result.items() if v is not None}, "run_id": run_id}


def _write_per_prompt(path: Path, prompts: list[dict], base: list[list[float]], tuned: list[list[float]]) -> None:
    """DVC plots data: per-prompt mean score of each model."""
    import csv

    from rftlab.io import atomic_open

    with atomic_open(path) as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["prompt", "prompt_id", "base", "tuned"])
        for i, (rec, b, t) in enumerate(zip(prompts, M.per_prompt_means(base), M.per_prompt_means(tuned))):
            w.writerow([i, rec.get("id"), round(b, 6), round(t, 6)])
