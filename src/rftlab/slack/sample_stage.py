"""The `sample` stage (dvc.yaml `sample`): the bundled Japanese Slack export, generated from params
`sample` (deterministic: same params, same bytes). Shape: rftlab.stage (docs/architecture.md).

It has no MLflow record: the export is a fixture of the sample pipeline, its counts are in the
ingest stage's run."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from rftlab import contracts
from rftlab.slack.sample import export_files, generate, write_zip
from rftlab.stage import PASS, Verdict

KIND = contracts.SAMPLE


@dataclass(frozen=True)
class Result:
    files: list[tuple[str, bytes | None]]
    stats: dict[str, int]


def compute(params: Any) -> Result:
    days, stats = generate(params)
    return Result(export_files(days, params.start), stats)


def gate(result: Result) -> Verdict:
    return PASS


def write_outputs(result: Result, out: str | os.PathLike) -> None:
    write_zip(out, result.files)


def run(out: str | os.PathLike, params: Any) -> dict[str, int]:
    """Write the export zip (atomically); returns its headline counts."""
    result = compute(params)
    verdict = gate(result)
    write_outputs(result, out)
    verdict.raise_if_failed(KIND)
    return result.stats
