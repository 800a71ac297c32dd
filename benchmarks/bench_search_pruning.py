"""Does pruning pay? The same local search with and without the median pruner, measured in one run.

    .venv/bin/python benchmarks/bench_search_pruning.py [--trials 8] [--seed 0] [--max-steps 30]

Needs the pipeline's outputs (`make pipeline`: prompts, grader, base model). Both searches use
the random sampler with the same seed, so they propose the same hyperparameters in the same
order; the only difference is that one stops clearly losing jobs at their validation passes.
Prints each search's best value, its total training steps (the sum over its jobs) and wall
times, and the saving. Training time is measured in optimizer steps: every step of a job costs
the same (one batch of rollouts, scored and learned from), while wall-clock minutes on this
shared 2-core machine drift with whatever else runs; the wall times are printed beside them.
Bar (issue 13): the pruned search reaches the same best value with >= 40 % fewer training steps.
Exits 1 when it does not. Each search runs in a scratch folder (own Optuna
storage, job store and MLflow store), so the project's records are untouched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def run(scratch: Path, pruner: str, args: argparse.Namespace) -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["tracking"]["experiment"] = f"bench-search-{pruner}"
    params["rft"]["local"]["max_steps"] = args.max_steps
    params["rft"]["local"]["hyperparameters"]["evalInterval"] = max(1, args.max_steps // 6)
    params["search"].update({"trials": args.trials, "sampler": "random", "seed": args.seed, "pruner": pruner,
                             "pruner_startup_trials": 2, "poll_s": 1.0, "storage": None, "study_name": None,
                             "space": {"learningRate": {"low": 1e-5, "high": 3e-3, "log": True}}})
    (scratch / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    (scratch / "dvc.yaml").write_text("stages: {}\n", encoding="utf-8")  # marks the project root
    env = {**os.environ, "RFTLAB_PARAMS": str(scratch / "params.yaml"), "RFTLAB_JOBS_DIR": str(scratch / "jobs"),
           "MLFLOW_TRACKING_URI": f"sqlite:///{scratch / 'mlflow.db'}"}
    cmd = [sys.executable, "-m", "rftlab", "search", "--train", str(ROOT / "data/prompts/train.jsonl"),
           "--val", str(ROOT / "data/prompts/val.jsonl"), "--grader", str(ROOT / "data/grader/grader.json"),
           "--base-model", str(ROOT / "data/models/base"), "--out-dir", str(scratch / "reports")]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=scratch, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    import optuna

    storage = f"sqlite:///{scratch / 'data' / 'search' / 'optuna.db'}"
    (summary,) = optuna.get_all_study_summaries(storage)
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    minutes = sum(float(t.user_attrs.get("duration_min") or 0) for t in study.trials)
    steps = sum(int(t.user_attrs.get("steps") or 0) for t in study.trials)
    states = [t.state.name for t in study.trials]
    return {"best": study.best_value, "best_params": study.best_params, "training_min": minutes, "wall_s": wall,
            "steps": steps, "complete": states.count("COMPLETE"), "pruned": states.count("PRUNED")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-steps", type=int, default=30)
    ap.add_argument("--bar", type=float, default=40.0, help="required training-time saving, percent")
    args = ap.parse_args()
    for needed in ("data/prompts/train.jsonl", "data/grader/grader.json", "data/models/base"):
        if not (ROOT / needed).exists():
            print(f"{needed} not found: run `make pipeline` first")
            return 1
    results = {}
    for pruner in ("none", "median"):
        scratch = Path(tempfile.mkdtemp(prefix=f"bench-search-{pruner}-"))
        try:
            results[pruner] = run(scratch, pruner, args)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        r = results[pruner]
        print(f"pruner={pruner:<6} best {r['best']:.4f} {r['best_params']}  training {r['steps']} steps, "
              f"{r['training_min']:.2f} job-min ({r['complete']} complete, {r['pruned']} pruned; "
              f"search wall {r['wall_s']:.0f} s)", flush=True)
    plain, pruned = results["none"], results["median"]
    saving = 100.0 * (1 - pruned["steps"] / plain["steps"]) if plain["steps"] else 0.0
    wall = 100.0 * (1 - pruned["wall_s"] / plain["wall_s"]) if plain["wall_s"] else 0.0
    same = abs(pruned["best"] - plain["best"]) < 1e-9
    print(f"training steps saved by pruning: {saving:.1f} % (bar {args.bar:.0f} %; search wall time {wall:+.1f} %); "
          f"same best value: {same}")
    return 0 if same and saving >= args.bar else 1


if __name__ == "__main__":
    sys.exit(main())
