"""Money across a study: what finished trials spent, what running ones have committed.

Pure over Optuna's FrozenTrial list, so every worker sharing the study computes the same
figures from the storage alone. A trial's user attributes hold `estimate_usd` (set before
launch) and `cost_usd` (set when its job ends); all figures are ESTIMATES (AWS publishes no
RFT training price).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rftlab import contracts
from rftlab.errors import RftlabError


class BudgetExhausted(RftlabError):
    """The next job would take the search over `search.budget_usd`."""

    exit_code = 1


@dataclass(frozen=True)
class Ledger:
    spent_usd: float       # finished trials (complete, pruned, failed): what their jobs cost
    committed_usd: float   # running trials: their pre-launch estimates

    @property
    def total_usd(self) -> float:
        return self.spent_usd + self.committed_usd

    def line(self, budget: float | None) -> str:
        cap = f" of ${budget:,.2f}" if budget is not None else ""
        return f"spent ${self.spent_usd:,.2f} + committed ${self.committed_usd:,.2f}{cap} (estimates)"


def ledger(trials: list[Any]) -> Ledger:
    # optuna loads only when a study is opened
    from optuna.trial import TrialState

    spent = committed = 0.0
    for t in trials:
        attrs = t.user_attrs
        if t.state == TrialState.RUNNING:
            committed += float(attrs.get("estimate_usd") or 0.0)
        elif contracts.COST_USD in attrs:
            spent += float(attrs[contracts.COST_USD] or 0.0)
    return Ledger(round(spent, 6), round(committed, 6))


def check(book: Ledger, estimate_usd: float, budget_usd: float | None) -> None:
    """Refuse a launch whose estimate would take spent + committed over the budget."""
    if budget_usd is None:
        return
    if book.total_usd + estimate_usd > budget_usd + 1e-9:
        raise BudgetExhausted(
            f"search.budget_usd ${budget_usd:,.2f}: the next job's estimate ${estimate_usd:,.2f} on top of "
            f"{book.line(None)} would exceed it; no further trial is started")
