"""The job's reward curves as DVC plot data: one small CSV per curve, committed with dvc.lock.

`dvc plots diff main <exp>` draws each revision's CSV as its own line, so the curves of two
experiments overlay in one chart (the top-level `reward` plot in dvc.yaml). The rows come from
the job record's `curves` ([[step, value], ...]); the full per-step metrics stay in MLflow.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rftlab import contracts
from rftlab.io import atomic_open

FILES = {contracts.TRAIN_REWARD_MEAN: "train_reward.csv", contracts.VAL_REWARD_MEAN: "val_reward.csv"}


def write_curves(folder: str | os.PathLike, record: Mapping[str, Any]) -> list[Path]:
    """Write `step,reward` CSVs for the record's training and validation reward curves."""

    curves = record.get("curves") or {}
    written = []
    for key, name in FILES.items():
        path = Path(folder) / name
        with atomic_open(path) as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["step", "reward"])
            for step, value in curves.get(key) or []:
                w.writerow([int(step), round(float(value), 6)])
        written.append(path)
    return written
