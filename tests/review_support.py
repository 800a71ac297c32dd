"""Fixtures for the review tests: an evaluation run built here (never from real messages)."""

from __future__ import annotations

from typing import Any

from rftlab import tracking

COLUMNS = ["prompt_id", "sample", "prompt", "reference", "base", "base_score", "tuned", "tuned_score"]


def texts(i: int) -> dict[str, str]:
    """A prompt and three replies for pair i: the base model's, the tuned model's, the target's own."""
    return {"prompt": f"質問{i}: 明日のデプロイは何時からですか？",
            "base": f"デプロイは明日の{i}時からです。よろしくお願いします。",
            "tuned": f"明日の{i}時からでござる。拙者が見ておくでござる。",
            "reference": f"{i}時からでござるよ。心配無用でござる。"}


def side_by_side(n: int, samples: int = 2) -> dict[str, list]:
    """Columns as `rftlab evaluate` passes them to mlflow.log_table (one list per column)."""
    rows = []
    for i in range(n):
        t = texts(i)
        for k in range(samples):
            rows.append([f"C01:17000000{i:02d}.000100", k, t["prompt"], t["reference"], t["base"] + "!" * k,
                         round(0.2 + 0.01 * i, 4), t["tuned"] + "!" * k, round(0.6 - 0.02 * i, 4)])
    return {c: [r[k] for r in rows] for k, c in enumerate(COLUMNS)}


def pairs_rows(n: int, *, judge_source: str = "stand-in") -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        t = texts(i)
        rows.append({"pair_id": f"p{i:03d}", "prompt_id": f"C01:{i}", "prompt": t["prompt"], "base": t["base"],
                     "tuned": t["tuned"], "reference": t["reference"],
                     "grader": {"base": 0.3, "tuned": 0.7 if i % 4 else 0.3},
                     "verifier": {"base": 0.5, "tuned": 0.4 if i % 3 == 0 else 0.6},
                     "judge": {"verdict": "tie" if i % 5 == 0 else "tuned", "source": judge_source}})
    return rows


def evaluation_run(experiment: str, n: int = 12, *, pairs: list[dict] | None = None,
                   table: dict | None = None) -> str:
    """A finished run of kind `evaluation` holding what `rftlab evaluate` logs for a review."""
    with tracking.stage_run("evaluation", run_name="eval test-job", experiment=experiment,
                            tags={"rftlab.job_id": "rft-local-test"}) as run:
        tracking.log_table(table if table is not None else side_by_side(n), "evaluate/side_by_side.json")
        tracking.log_dict({"base": [], "tuned": []}, "evaluate/samples.json")
        if pairs is not None:
            tracking.log_dict(pairs, "evaluate/pairs.json")
        return run.info.run_id
