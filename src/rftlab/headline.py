"""Headline metrics: the handful of numbers per stage that DVC compares across experiments.

Each stage writes its full detail where it always has (MLflow, and a cached DVC output such as
reports/ingest.json); with `--headline metrics/<stage>.json` it also writes the few numbers below.
Those files are committed with the code (`cache: false` in dvc.yaml), so `dvc exp show`,
`dvc metrics diff main <exp>` and `dvc metrics show` read every revision from git alone and fit
a terminal. They hold no timings or run ids: the same inputs give the same bytes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from rftlab import contracts
from rftlab.io import write_json

# stage -> (name in the headline file, dotted path in the stage's full metrics)
HEADLINE: dict[str, tuple[tuple[str, str], ...]] = {
    "ingest": (("messages_kept", "messages_kept"), ("messages_dropped", "messages_dropped"),
               ("users_kept", "users_kept"), ("channels_kept", "channels_kept"),
               ("messages_with_pii", "messages_with_pii")),
    "calibrate": (("best_auc", "best_auc"), ("default_weights_auc", "default_weights_auc"),
                  ("gaming_above_median", "gaming_above_median"), ("trials", "trials")),
    "check": (("passed", "passed"), ("heldout_auc", "heldout_auc"), ("gaming_max_quantile", "gaming_max_quantile"),
              ("group_spread", "group_spread"), ("reference_top_decile", "reference_top_decile")),
    "prompts": (("train", "train"), ("val", "val"), ("train_threads", "train_threads"),
                ("prompt_tokens_mean", "lengths.train.prompt_tokens.mean")),
    "base_model": (("final_loss", "final_loss"), ("parameters", "parameters"), ("training_texts", "training_texts")),
    "preflight": (("passed", "passed"), ("flat_share", "flat_share"), ("mean_std", "mean_std"),
                  ("reward_mean", "reward_mean"), ("done_share", "done_share")),
    "rft": (("val_reward_base", "val_reward_base"), ("val_reward_final", "val_reward_final"),
            ("val_uplift_pct", "val_uplift_pct"), ("train_reward_last", "train_reward_last"), ("steps", "steps")),
    "evaluate": (("base_mean", contracts.EVAL_BASE_MEAN), ("tuned_mean", contracts.EVAL_TUNED_MEAN), ("uplift_pct", contracts.EVAL_UPLIFT_PCT),
                 ("uplift_ci_low", "eval/uplift_ci_low"), ("uplift_ci_high", "eval/uplift_ci_high"),
                 ("win_rate", contracts.EVAL_WIN_RATE), ("prompts", "eval/prompts")),
}


def _lookup(detail: Mapping[str, Any], path: str) -> Any:
    if path in detail:  # flat keys may hold dots or slashes themselves
        return detail[path]
    node: Any = detail
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _clean(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return int(value) if value.is_integer() and abs(value) < 2**53 else round(value, 6)
    return None  # strings, lists: detail, not headline


def headline(stage: str, detail: Mapping[str, Any]) -> dict[str, Any]:
    """The stage's headline numbers from its full metrics; a number the run did not produce is left out."""
    if stage not in HEADLINE:
        raise ValueError(f"no headline metrics for stage {stage!r} (known: {', '.join(HEADLINE)})")
    out: dict[str, Any] = {}
    for name, path in HEADLINE[stage]:
        value = _clean(_lookup(detail, path))
        if value is not None:
            out[name] = value
    return out


def write_headline(path: str | os.PathLike, stage: str, detail: Mapping[str, Any]) -> dict[str, Any]:
    """Write `headline(stage, detail)` to `path` (atomically); returns what was written."""

    numbers = headline(stage, detail)
    write_json(path, numbers)
    return numbers
