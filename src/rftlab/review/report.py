"""`rftlab review report`: the people's verdict on a review, and how well the grader, the verifier and
the judge agree with it; logged into the evaluation run (metrics and `review/<kind>/report.{json,md}`).

Metric names: rftlab.contracts (`review/*` for tuned vs base, `review_real/*` for tuned vs the
target's real reply). Agreement is computed for tuned vs base only: the raters score base and tuned
replies, not the real one. A judge's verdicts are grouped by their `source`, so a stand-in judge's
agreement never lands in the same metric as Bedrock's (`judge_<source>_agreement`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from rftlab import contracts as C
from rftlab import tracking
from rftlab.review import stats as S
from rftlab.review.store import Review, Vote


def _judges(review: Review) -> dict[str, dict[str, str | None]]:
    """Judge labels per pair, grouped by the judge's source (slugged for a metric name)."""
    out: dict[str, dict[str, str | None]] = defaultdict(dict)
    for item in review.items:
        if item.judge:
            slug = re.sub(r"[^a-z0-9]+", "_", str(item.judge.get("source", "")).lower()).strip("_") or "unknown"
            out[f"judge_{slug}"][item.pair_id] = S.verdict(item.judge)
    return dict(out)


def _raters(review: Review) -> dict[str, dict[str, str | None]]:
    raters: dict[str, dict[str, str | None]] = {
        "grader": {i.pair_id: S.rank(i.grader) for i in review.items},
        "verifier": {i.pair_id: S.rank(i.verifier) for i in review.items},
    }
    raters.update(_judges(review))
    return {name: labels for name, labels in raters.items() if any(v is not None for v in labels.values())}


def _reviewer(name: str, scores: dict[str, float], *, n: int, seed: int) -> dict[str, Any]:
    values = list(scores.values())
    lo, hi = S.bootstrap_ci(values, n=n, seed=seed)
    return {"reviewer": name, "votes": len(values), "preference": S.mean(values), "ci": [lo, hi],
            "cant_tell_rate": S.mean([float(v == 0.5) for v in values])}


def build(review: Review, votes: dict[tuple[str, str], Vote], *, bootstrap: int, seed: int) -> dict[str, Any]:
    """The report as a dict (pure: the review and its votes in, numbers out)."""
    items = {i.pair_id: i for i in review.items}
    by_pair: dict[str, list[float]] = defaultdict(list)
    by_reviewer: dict[str, dict[str, float]] = defaultdict(dict)
    for (who, pid), vote in sorted(votes.items()):
        item = items.get(pid)
        if item is None:
            continue
        score = S.vote_score(vote.value, item.a_is, item.b_is)
        by_pair[pid].append(score)
        by_reviewer[who][pid] = score
    pair_score = {pid: float(sum(v) / len(v)) for pid, v in by_pair.items()}
    all_votes = [s for v in by_pair.values() for s in v]
    decisive = [s for s in all_votes if s != 0.5]
    lo, hi = S.bootstrap_ci(list(pair_score.values()), n=bootstrap, seed=seed)
    people = {pid: S.majority(s) for pid, s in pair_score.items()}
    report: dict[str, Any] = {
        "kind": review.kind, "evaluation_run": review.run_id, "source": review.source,
        "pairs_in_review": len(review.items), "pairs_voted": len(pair_score), "votes": len(all_votes),
        "reviewers": len(by_reviewer), "preference": S.mean(list(pair_score.values())), "preference_ci": [lo, hi],
        "cant_tell_rate": S.mean([float(s == 0.5) for s in all_votes]),
        "decisive_preference": S.mean(decisive),
        "few_pairs": len(pair_score) < S.FEW_PAIRS,
        "per_reviewer": [_reviewer(who, scores, n=bootstrap, seed=seed) for who, scores in sorted(by_reviewer.items())],
        "people_kappa": S.people_kappa({who: {p: S.majority(s) for p, s in scores.items()}
                                        for who, scores in by_reviewer.items()}),
        "agreement": {},
        "bootstrap": {"resamples": bootstrap, "seed": seed, "level": 0.95, "unit": "pair"},
    }
    if review.kind == "tuned_vs_base":
        report["agreement"] = {name: S.agreement(people, labels) for name, labels in _raters(review).items()}
    return report


def metrics(report: dict[str, Any]) -> dict[str, float | None]:
    """The report's numbers under their MLflow names (None: undefined, not logged)."""
    kind = report["kind"]
    lo, hi = report["preference_ci"]
    out = {C.REVIEW_PREFERENCE: report["preference"], C.REVIEW_CI_LOW: lo, C.REVIEW_CI_HIGH: hi,
           C.REVIEW_CANT_TELL: report["cant_tell_rate"], C.REVIEW_PAIRS: report["pairs_voted"],
           C.REVIEW_VOTES: report["votes"], C.REVIEW_REVIEWERS: report["reviewers"]}
    for rater, agree in report["agreement"].items():
        out[f"{rater}_{C.AGREEMENT}"] = agree["share"]
        out[f"{rater}_{C.KAPPA}"] = agree["kappa"]
    return {C.review_metric(kind, k): (None if v is None else float(v)) for k, v in out.items()}


def _num(v: Any, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def markdown(report: dict[str, Any]) -> str:
    lo, hi = report["preference_ci"]
    what = "the tuned reply over the base model's" if report["kind"] == "tuned_vs_base" else \
        "the tuned reply over the target's real reply (0.5: people cannot tell them apart)"
    lines = [f"# Blind review: {report['kind']}", "",
             f"People preferred {what}: **{_num(report['preference'])}** (95 % CI {_num(lo)} to {_num(hi)}), "
             f"{report['votes']} votes on {report['pairs_voted']} of {report['pairs_in_review']} pairs by "
             f"{report['reviewers']} reviewer(s); can't tell {_num(report['cant_tell_rate'])}.", ""]
    if report["few_pairs"]:
        lines += [f"Fewer than {S.FEW_PAIRS} pairs voted: the interval is optimistic.", ""]
    lines += ["| reviewer | votes | preference | 95 % CI | can't tell |", "|---|---|---|---|---|"]
    lines += [f"| {r['reviewer'].replace('|', '/')} | {r['votes']} | {_num(r['preference'])} | {_num(r['ci'][0])} to {_num(r['ci'][1])} "
              f"| {_num(r['cant_tell_rate'])} |" for r in report["per_reviewer"]]
    lines += ["", f"Agreement between reviewers (mean pairwise Cohen's kappa): {_num(report['people_kappa'])}", ""]
    if report["agreement"]:
        lines += ["| rater | pairs | agrees with the people | Cohen's kappa |", "|---|---|---|---|"]
        lines += [f"| {name} | {a['pairs']} | {_num(a['share'])} | {_num(a['kappa'])} |"
                  for name, a in report["agreement"].items()]
    return "\n".join(lines) + "\n"


def publish(report: dict[str, Any]) -> dict[str, float | None]:
    """Log the report into its evaluation run: metrics (step n for the run's n-th report of this kind),
    `review/<kind>/report.json` and `.md`. Returns the metrics."""
    run_id, kind = report["evaluation_run"], report["kind"]
    values = metrics(report)
    step = len(tracking.metric_history(run_id, C.review_metric(kind, C.REVIEW_VOTES)))
    tracking.log_metrics_to(run_id, values, step=step)
    tracking.log_dict_to(run_id, report, f"review/{kind}/report.json")
    tracking.log_text_to(run_id, markdown(report), f"review/{kind}/report.md")
    return values
