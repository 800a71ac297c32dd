"""What every pipeline stage shares: the gate's checks and verdict, and the stage's MLflow record.

Each DVC stage is one module, `<concern>/<stage>_stage.py`, with the same shape (docs/architecture.md):
    read_inputs(...)   the stage's inputs, checked: a bad path or file fails here, before any record
    compute(...)       the result; no file written, nothing logged
    gate(...)          a Verdict: the checks the result must pass (stages without a gate return PASS)
    write_outputs(...) every DVC output, atomically: data, report, headline metrics, plot data
    record(...)        what the stage logs to its MLflow run
    run(...)           those in that order, inside the stage's run (a failure ends it FAILED); a
                       failed gate raises last, so the outputs and the record of a failure exist

Long stages also report while they compute (Optuna trials as child runs, a job's step metrics):
those live records belong to the computation, and say so where they are made.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rftlab import tracking
from rftlab.errors import GateFailed


@dataclass(frozen=True)
class Check:
    """One gate figure against its threshold: kind "min" passes at value >= threshold, "max" below it."""

    name: str
    value: float
    threshold: float
    kind: str

    @property
    def passed(self) -> bool:
        if not math.isfinite(self.value):
            return False
        return self.value >= self.threshold if self.kind == "min" else self.value < self.threshold

    def line(self) -> str:
        op = ">=" if self.kind == "min" else "<"
        verdict = "ok  " if self.passed else "FAIL"
        gap = "" if self.passed else f"  (off by {abs(self.value - self.threshold):.4f})"
        return f"{verdict} {self.name:<24} {self.value:.4f}  needs {op} {self.threshold:g}{gap}"

    def failure(self) -> str:
        return f"{self.name} {self.value:.4f} {'<' if self.kind == 'min' else '>='} threshold {self.threshold:g}"

    def as_dict(self) -> dict[str, Any]:
        value = round(float(self.value), 6) if math.isfinite(self.value) else None
        return {"value": value, "threshold": self.threshold, "passed": self.passed}


@dataclass(frozen=True)
class Verdict:
    """The gate's decision. `enforce` false: a failure is reported and recorded, and the pipeline goes on."""

    checks: tuple[Check, ...] = ()
    enforce: bool = True

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def lines(self) -> list[str]:
        return [c.line() for c in self.checks]

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {c.name: c.as_dict() for c in self.checks}

    def raise_if_failed(self, what: str, detail: str = "", advice: Mapping[str, str] | None = None) -> None:
        """GateFailed naming each failed check and its threshold (and what to change, from `advice`);
        nothing when it passed or is not enforced."""
        if self.passed or not self.enforce:
            return
        parts = [c.failure() + (f": {advice[c.name]}" if advice and c.name in advice else "") for c in self.failed]
        raise GateFailed(f"{what} failed: " + "; ".join(parts) + (f"\n{detail}" if detail else ""))


PASS = Verdict()


@contextlib.contextmanager
def stage_record(kind: str, *, track: bool = True, **run: Any) -> Iterator[Any]:
    """The stage's MLflow run (rftlab.tracking.stage_run: kind tag, lineage, FAILED on error), or None
    when the stage runs untracked (`--no-track`, benchmarks)."""
    if not track:
        yield None
        return
    with tracking.stage_run(kind, **run) as active:
        yield active
