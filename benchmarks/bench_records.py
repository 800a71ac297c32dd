"""Issue 18's table, re-measured: kills, reruns and two processes at once against the MLflow record.

    .venv/bin/python benchmarks/bench_records.py [--tries 14] [--trials 400]

Everything through the CLI (`python -m rftlab ...`) in its own process group, on small projects
built in a temp folder (the test suite's builders: tests/local_support.py, calibrate_support.py),
each with its own sqlite MLflow store. Prints one line per figure of the issue's table:

- a local job (8 steps, checkpoints every 4) signalled at step 6 (SIGINT, then SIGKILL), run again:
  (metric, step) rows logged more than once, runs of the job, the job's duration against its
  saved elapsed time;
- `rftlab evaluate` run 4 times on one job: evaluation runs, superseded ones, (key, step) rows of
  the job run logged twice;
- a calibration SIGKILLed after 20 trials, then run again: runs left RUNNING;
- `--tries` fresh sqlite stores, each opened by 3 processes at once: failed processes, stores left
  unusable (`_alembic_tmp_*` tables);
- two `rftlab calibrate --trials N` on one study at once: complete trials, distinct points, trial
  numbers logged twice, stored trials without a run.

Exits 1 when any count the issue calls a defect is not 0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from calibrate_support import AUTHOR, synth_messages  # noqa: E402
from local_support import build_project  # noqa: E402
from records_support import (INT, KILL, RFT, cli_env, finish, job_state, rows, rows_per_key_step,  # noqa: E402
                             runs_of, signal_at_step, start)

HP = {"batchSize": 4, "trainingSamplePerPrompt": 4, "learningRate": 1e-3, "inferenceMaxTokens": 8, "evalInterval": 4}
EVAL = ["evaluate", "--job", "out/job.json", "--deployment", "none.json", "--val", "val.jsonl",
        "--out", "out/evaluate.json", "--report", "out/evaluate.md"]


def twice(db: Path, run_id: str) -> int:
    return sum(n - 1 for n in rows_per_key_step(db, run_id).values() if n > 1)


def job_runs(db: Path, jobs: Path) -> list[tuple[str, str]]:
    return runs_of(db, "rftlab.job_id", job_state(jobs)["job_id"], "rft-job")


def signalled_job(template: Path, tmp: Path, sig: int, name: str) -> tuple[list[str], int]:
    d = tmp / name
    shutil.copytree(template, d)
    (d / "params.yaml").write_text((d / "params.yaml").read_text().replace(str(template), str(d)))
    db, jobs = d / "mlflow.db", d / "jobs"
    env = cli_env(d, db)
    first = start(RFT, d, env)
    signal_at_step(first, jobs, 6, sig)
    finish(first)
    rc, out = finish(start(RFT, d, env))
    st, runs = job_state(jobs), job_runs(db, jobs)
    (duration,) = [v for (v,) in rows(db, "SELECT value FROM metrics WHERE run_uuid = ? AND key = 'duration_min'",
                                      runs[0][0])] or [float("nan")]
    lines = [f"job {name}: rerun exit {rc}; job runs {len(runs)} ({', '.join(s for _, s in runs)}); "
             f"(metric, step) rows logged twice: {twice(db, runs[0][0])}; duration_min {duration:.3f} vs "
             f"elapsed {st['details']['elapsed_s'] / 60:.3f} min over both attempts"]
    if name == "sigkill":  # four evaluations of the finished job
        for _ in range(4):
            finish(start(EVAL, d, {**env, "RFTLAB_PARAMS": str(d / "params.yaml")}))
        evals = rows(db, "SELECT r.run_uuid FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
                         "WHERE t.key = 'rftlab.kind' AND t.value = 'evaluation'")
        superseded = rows(db, "SELECT COUNT(*) FROM tags WHERE key = 'rftlab.superseded_by'")[0][0]
        lines.append(f"evaluate x4: evaluation runs {len(evals)}, superseded {superseded}; job run (key, step) rows "
                     f"logged twice: {twice(db, runs[0][0])}")
    return lines, twice(db, runs[0][0]) + (len(runs) - 1)


def calibrate_project(d: Path) -> Path:
    import yaml

    from rftlab.io import write_json
    from rftlab.style.profile import build_profile

    d.mkdir(parents=True)
    (d / "params.yaml").write_text(yaml.safe_dump({"tracking": {"experiment": "records"},
                                                   "calibrate": {"folds": 3, "seed": 0}}))
    msgs = synth_messages()
    (d / "messages.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in msgs))
    write_json(d / "profile.json", build_profile(msgs, AUTHOR))
    return d


def calibrate(d: Path, db: Path, trials: int):
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{db}", "RFTLAB_PARAMS": str(d / "params.yaml")}
    return start(["calibrate", "--messages", "messages.jsonl", "--author", AUTHOR, "--profile", "profile.json",
                  "--out", "data/grader/grader.json", "--trials", str(trials)], d, env)


def trial_runs(db: Path) -> list[int]:
    return [int(v) for (v,) in rows(db, "SELECT t.value FROM tags t JOIN tags k ON k.run_uuid = t.run_uuid AND "
                                        "k.key = 'rftlab.kind' AND k.value = 'calibration-trial' "
                                        "WHERE t.key = 'optuna.trial_number'")]


def killed_calibration(tmp: Path) -> tuple[str, int]:
    d = calibrate_project(tmp / "cal-kill")
    db = d / "mlflow.db"
    proc = calibrate(d, db, 5000)
    while proc.poll() is None:
        try:
            if db.exists() and len(trial_runs(db)) >= 20:
                os.killpg(proc.pid, KILL)
                break
        except sqlite3.OperationalError:
            pass
        time.sleep(0.05)
    proc.wait()
    left = rows(db, "SELECT COUNT(*) FROM runs WHERE status = 'RUNNING'")[0][0]
    rc, _ = finish(calibrate(d, db, 30))
    after = rows(db, "SELECT COUNT(*) FROM runs WHERE status = 'RUNNING'")[0][0]
    return (f"calibration SIGKILLed after 20 trials: runs RUNNING {left}; after the next calibration (exit {rc}): "
            f"{after}"), after


def fresh_stores(tmp: Path, tries: int) -> tuple[str, int]:
    msgs = tmp / "m.jsonl"
    msgs.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in synth_messages(60)))
    failed = unusable = 0
    for k in range(tries):
        db = tmp / f"fresh-{k}.db"
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{db}"}
        procs = [start(["profile", "--messages", str(msgs), "--author", AUTHOR, "--out", str(tmp / f"p{k}-{i}.json")],
                       tmp, env) for i in range(3)]
        failed += sum(rc != 0 for rc, _ in (finish(p) for p in procs))
        unusable += bool(rows(db, "SELECT name FROM sqlite_master WHERE name LIKE '_alembic_tmp%'"))
    return (f"fresh sqlite store opened by 3 processes at once, {tries} tries: failed processes {failed}, "
            f"stores left unusable {unusable}"), failed + unusable


def two_workers(tmp: Path, trials: int) -> tuple[str, int]:
    import optuna

    d = calibrate_project(tmp / "cal-two")
    db = d / "mlflow.db"
    results = [finish(p) for p in [calibrate(d, db, trials), calibrate(d, db, trials)]]
    storage = f"sqlite:///{d / 'data' / 'grader' / 'optuna.db'}"
    (summary,) = optuna.get_all_study_summaries(storage)
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    points = {json.dumps(t.params, sort_keys=True) for t in done}
    logged = trial_runs(db)
    dup = len(logged) - len(set(logged))
    missing = len({t.number for t in done} - set(logged))
    return (f"two calibrate --trials {trials} on one study (exit {[rc for rc, _ in results]}): complete trials "
            f"{len(done)}, distinct points {len(points)}, trial numbers logged twice {dup}, stored trials without a "
            f"run {missing}"), dup + missing + (len(done) - len(points))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tries", type=int, default=14)
    ap.add_argument("--trials", type=int, default=400)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    bad = 0
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        template = build_project(tmp / "template", {"rft": {"local": {"max_steps": 8, "val_prompts": 4,
                                                                       "hourly_usd": 1.0, "hyperparameters": HP}},
                                                    "evaluate": {"samples_per_prompt": 1, "max_tokens": 6,
                                                                 "max_prompts": 4, "bootstrap": 100}})
        for sig, name in ((INT, "sigint"), (KILL, "sigkill")):
            lines, n = signalled_job(template, tmp, sig, name)
            print("\n".join(lines), flush=True)
            bad += n
        for measure in (lambda: killed_calibration(tmp), lambda: fresh_stores(tmp, args.tries),
                        lambda: two_workers(tmp, args.trials)):
            line, n = measure()
            print(line, flush=True)
            bad += n
    print(f"elapsed {time.perf_counter() - t0:.0f}s; defects counted: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
