"""The `prompts` stage (dvc.yaml `prompts`): messages the target answered -> train.jsonl / val.jsonl
in Bedrock RFT's format, split by thread and time. Shape: rftlab.stage (docs/architecture.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rftlab import contracts, tracking
from rftlab.config import PromptsParams
from rftlab.errors import InputError
from rftlab.headline import write_headline
from rftlab.io import read_messages, write_json
from rftlab.prompts import report
from rftlab.prompts.build import PromptSet, build_prompt_set, paraphraser_for
from rftlab.stage import PASS, Verdict, stage_record

KIND = contracts.PROMPTS


@dataclass(frozen=True)
class Paths:
    messages: Path
    out_dir: Path
    metrics: Path
    plots_dir: Path
    headline: Path | None = None

    @property
    def train(self) -> Path:
        return self.out_dir / "train.jsonl"

    @property
    def val(self) -> Path:
        return self.out_dir / "val.jsonl"


@dataclass(frozen=True)
class Result:
    prompts: PromptSet
    metrics: dict[str, Any]


def read_inputs(paths: Paths, author: str) -> list[dict]:
    messages = read_messages(paths.messages)
    if not any(m["user"] == author for m in messages):
        raise InputError(f"{paths.messages}: no message by author {author!r} (check --author / profile.author)")
    return messages


def compute(messages: list[dict], author: str, cfg: PromptsParams, source: Path) -> Result:
    result = build_prompt_set(messages, author, cfg, max_prompt_length=cfg.max_prompt_tokens,
                              paraphrase=paraphraser_for(cfg))
    if not result.train:
        raise InputError(f"{source}: no usable prompts ({sum(result.pairs.values())} replies by {author} found, "
                         f"dropped: {dict(result.dropped) or 'none'}); replies need thread_ts or ts + channel")
    return Result(result, report.metrics(result))


def gate(result: Result) -> Verdict:
    return PASS  # Bedrock's record minimum is a warning here (the command says it); validation is `prompts validate`


def write_outputs(result: Result, paths: Paths) -> dict[str, Path]:
    report.write_records(paths.train, result.prompts.train)
    report.write_records(paths.val, result.prompts.val)
    write_json(paths.metrics, result.metrics)
    if paths.headline:
        write_headline(paths.headline, KIND, result.metrics)
    return report.write_plots(result.prompts, paths.plots_dir)


def record(result: Result, paths: Paths, plot_files: dict[str, Path]) -> None:
    """Counts, split and plot; both prompt files as datasets with their digests."""
    train_digest = tracking.log_input_file(paths.train, name="prompts-train", context="training")
    val_digest = tracking.log_input_file(paths.val, name="prompts-val", context="validation")
    digests = {"prompts.train_digest": train_digest, "prompts.val_digest": val_digest}
    tracking.set_tags(digests)
    tracking.log_params(digests)
    flat = tracking.flatten({k: v for k, v in result.metrics.items() if k != "lengths"})
    flat.update(tracking.flatten({"lengths": result.metrics["lengths"]}))
    tracking.log_metrics({k: v for k, v in flat.items() if isinstance(v, (int, float))})
    tracking.log_dict(result.metrics, "prompts/metrics.json")
    tracking.log_dict({"train": sorted({f"{r['channel']}:{r['thread_ts']}" for r in result.prompts.train}),
                       "val": sorted({f"{r['channel']}:{r['thread_ts']}" for r in result.prompts.val})},
                      "prompts/split_threads.json")
    tracking.log_artifact(plot_files["png"], "prompts")
    tracking.log_artifact(plot_files["csv"], "prompts")


def run(paths: Paths, author: str, cfg: PromptsParams, *, track: bool = True) -> dict[str, Any]:
    """Build, write train/val, metrics and plots (atomically), log one MLflow run; returns the metrics."""
    messages = read_inputs(paths, author)
    settings = {"prompts": cfg.model_dump(mode="json"), "profile.author": author,
                "max_prompt_length": cfg.max_prompt_tokens}
    with stage_record(KIND, track=track, run_name="prompts", params=settings,
                      deps={"messages": paths.messages}) as run_:
        result = compute(messages, author, cfg, paths.messages)
        verdict = gate(result)
        plot_files = write_outputs(result, paths)
        if run_ is not None:
            record(result, paths, plot_files)
    verdict.raise_if_failed(KIND)
    return result.metrics
