"""Calibration speed on 5,000 messages, pinned to one core (target >= 20 trials/s).

    .venv/bin/python benchmarks/bench_calibrate_speed.py [--messages 5000] [--trials 80]

Messages: aozora12 rows (author 879 as the target, groups = works), tokenised once up front.
Prints three rates measured in this one run:
  objective  - one re-weighting + 5 fold AUCs + gaming penalty (no sampler, no storage)
  search     - the Optuna loop as `rftlab calibrate` runs it (TPE on the in-memory copy,
               trials persisted to sqlite from a background thread); `trials_per_s` in its metrics
  end-to-end - calibrate() wall time per trial incl. sqlite persistence and one MLflow
               child run per trial (the recorder flush at the end included)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "aozora12.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(CORPUS))
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--trials", type=int, default=80)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    from rftlab.calibrate.folds import prepare
    from rftlab.calibrate.objective import Objective
    from rftlab.calibrate import calibrate_stage
    from rftlab.grader.scoring import DEFAULT_WEIGHTS
    from rftlab.io import write_json
    from rftlab.style.features import extract
    from rftlab.style.profile import build_profile_from_features

    rows = [json.loads(line) for line in open(args.corpus, encoding="utf-8")]
    random.Random(0).shuffle(rows)
    rows = rows[: args.messages]
    msgs = [{"id": str(i), "user": r["author"], "text": r["text"], "group": f"{r['author']}:{r['work']}"}
            for i, r in enumerate(rows)]
    target = "879"
    t = time.perf_counter()
    feats = [extract(m["text"]) for m in msgs]
    t_feat = time.perf_counter() - t
    t = time.perf_counter()
    data = prepare(msgs, feats, target, k=5, seed=0)
    t_prep = time.perf_counter() - t
    obj = Objective(data)
    rng = random.Random(0)
    weights = [{k: v * rng.uniform(0, 2) for k, v in DEFAULT_WEIGHTS.items()} for _ in range(200)]
    t = time.perf_counter()
    for w in weights:
        obj(w)
    obj_rate = len(weights) / (time.perf_counter() - t)

    tmp = Path(tempfile.mkdtemp(prefix="bench-speed-"))
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
    (tmp / "m.jsonl").write_text("".join(json.dumps(m, ensure_ascii=False) + "\n" for m in msgs), encoding="utf-8")
    write_json(tmp / "profile.json", build_profile_from_features(
        [f for f, m in zip(feats, msgs) if m["user"] == target],
        [f for f, m in zip(feats, msgs) if m["user"] != target], author=target))
    common = dict(trials=args.trials, folds=5, seed=0, register=False, features=feats)
    quiet = calibrate_stage.run(tmp / "m.jsonl", target, tmp / "profile.json", tmp / "a" / "grader.json", track=False, **common)
    t = time.perf_counter()
    tracked = calibrate_stage.run(tmp / "m.jsonl", target, tmp / "profile.json", tmp / "b" / "grader.json", track=True, **common)
    wall = time.perf_counter() - t - tracked["prepare_s"]
    n_target = sum(m["user"] == target for m in msgs)
    print(f"{len(msgs)} messages ({n_target} target), {len(data.labels)} held-out rows x {len(data.names)} "
          f"components, {len(data.G)} gaming rows, 5 folds, one core")
    print(f"tokenise once: {t_feat:.1f}s ({len(msgs) / t_feat:.0f} msg/s); per-fold profiles + matrices: {t_prep:.1f}s")
    print(f"objective : {obj_rate:8.1f} evaluations/s")
    print(f"search    : {quiet['trials_per_s']:8.1f} trials/s  ({args.trials} TPE trials, sqlite storage; target >= 20)")
    print(f"end-to-end: {args.trials / wall:8.1f} trials/s  (sqlite + one MLflow child run per trial, "
          f"loop {tracked['trials_per_s']} trials/s before the recorder flush)")


if __name__ == "__main__":
    main()
