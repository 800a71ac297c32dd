"""`rftlab compare` over fake job runs in MLflow: differing params, costs, uplifts, sorting, reports."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from rftlab import contracts, tracking
from rftlab.cli import app
from rftlab.evaluate import plots
from rftlab.evaluate.compare import compare, differing_params

EXP = "compare-test"


def _job(job_id: str, lr: float, cost: float, uplift: float | None, *, evaluated: bool = True) -> str:
    hp = {"epochCount": 1, "batchSize": 16, "learningRate": lr}
    with tracking.stage_run("rft-job", run_name=job_id, experiment=EXP,
                            tags={contracts.JOB_ID: job_id, contracts.BACKEND: "local",
                                  contracts.GRADER_VERSION: "g-abc123", "rftlab.status": "Completed"},
                            params={"hyperparameters": hp, "base_model": "data/models/base",
                                    "prompts_digest": "d41d8cd9"}) as run:
        tracking.log_metrics({"cost_usd": cost, "duration_min": 3.5})
        for step in range(4):
            tracking.log_metrics({"train/reward_mean": 0.2 + step * lr * 1e4}, step=step)
        if evaluated:
            tracking.log_metrics({"eval/base_mean": 0.3, "eval/tuned_mean": 0.3 * (1 + uplift / 100),
                                  "eval/uplift_pct": uplift, "eval/uplift_ci_low": uplift - 5,
                                  "eval/uplift_ci_high": uplift + 5, "eval/win_rate": 0.6,
                                  "eval/inference_cost_usd": 0.0})
            tracking.set_tags({"rftlab.evaluated": "true"})
            tracking.log_figure(plots.score_histogram([0.2, 0.3], [0.4, 0.5]), "evaluate/score_hist.png")
        return run.info.run_id


@pytest.fixture(scope="module")
def jobs():
    return [_job("job-slow", 1e-5, 1.25, 12.5), _job("job-fast", 1e-4, 2.75, 31.0)]


def _row(table: str, job: str) -> str:
    return next(line for line in table.splitlines() if line.startswith(job))


def test_compare_shows_differing_hyperparameter_costs_and_uplifts(jobs):
    res = CliRunner().invoke(app, ["compare", "--experiment", EXP])
    assert res.exit_code == 0, res.output
    header = res.output.splitlines()[0]
    assert "learningRate" in header
    assert "batchSize" not in header and "epochCount" not in header  # same in both jobs
    assert "cost_usd" in header and "uplift_pct" in header and "grader_version" in header
    slow, fast = _row(res.output, "job-slow"), _row(res.output, "job-fast")
    assert "1e-05" in slow and "1.25" in slow and "12.5" in slow
    assert "0.0001" in fast and "2.75" in fast and "31" in fast
    assert "g-abc123" in slow and "d41d8cd9" in slow and "Completed" in slow
    # default sort: best uplift first
    assert res.output.index("job-fast") < res.output.index("job-slow")


def test_sort_by_cost_ascending(jobs):
    res = CliRunner().invoke(app, ["compare", "--experiment", EXP, "--sort", "cost_usd", "--ascending"])
    assert res.exit_code == 0, res.output
    assert res.output.index("job-slow") < res.output.index("job-fast")


@pytest.mark.parametrize("suffix", [".md", ".html"])
def test_report_embeds_existing_plots(jobs, tmp_path, suffix):
    report = tmp_path / f"compare{suffix}"
    res = CliRunner().invoke(app, ["compare", "--experiment", EXP, "--report", str(report)])
    assert res.exit_code == 0, res.output
    text = report.read_text(encoding="utf-8")
    assert "learningRate" in text and "job-fast" in text and "job-slow" in text
    images = re.findall(r"\]\(([^)]+\.png)\)" if suffix == ".md" else r"src='([^']+\.png)'", text)
    assert any("reward_curves.png" in i for i in images) and any("uplift.png" in i for i in images)
    assert any("score_hist.png" in i for i in images)
    for rel in images:
        assert (tmp_path / rel).stat().st_size > 1000, rel


def test_relative_report_path(jobs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["compare", "--experiment", EXP, "--report", "reports/compare.md"])
    assert res.exit_code == 0, res.output
    text = (tmp_path / "reports" / "compare.md").read_text(encoding="utf-8")
    for rel in re.findall(r"\]\(([^)]+\.png)\)", text):
        assert not rel.startswith("/") and (tmp_path / "reports" / rel).exists(), rel


def test_bad_report_suffix_and_unknown_experiment(jobs, tmp_path):
    res = CliRunner().invoke(app, ["compare", "--experiment", EXP, "--report", str(tmp_path / "r.pdf")])
    assert res.exit_code == 2 and ".md or .html" in res.output
    res = CliRunner().invoke(app, ["compare", "--experiment", "no-such-experiment"])
    assert res.exit_code == 2 and "no-such-experiment" in res.output


def test_differing_params_and_partial():
    rows = [{"params": {"a": "1", "b": "2", "c": "x"}}, {"params": {"a": "1", "c": "y"}}]
    assert differing_params(rows) == ["c"]
    assert differing_params(rows, partial=True) == ["b", "c"]


def test_compare_returns_rows(jobs):
    _, rows = compare(experiment=EXP, sort="eval/uplift_pct")
    assert [r["job"] for r in rows] == ["job-fast", "job-slow"]
    assert rows[0]["evaluated"] is True
