"""Calibrated grader on aozora12 (corpus README protocol): per-author test AUC and the mean.

    .venv/bin/python benchmarks/bench_calibrate_aozora.py [--trials 80] [--folds 5] [--authors 50,58]

Per author (the target): calibration sees ONLY the training split — the target's rows from
half of its works (<= 1,500) and 150 rows of each other author — with K folds by work
inside it (`rftlab.calibrate.calibrate_stage.run`, the code behind `rftlab calibrate`). The
bundle (profile of the whole training split + best weights) is then scored on the test
split: the target's other works (<= 500 rows) vs rows 150-199 of each other author.
Bar: mean >= 0.94 (char n-gram logistic regression 0.933; the seed's grader 0.709).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from aozora import CORPUS, Aozora
from rftlab.calibrate.metrics import roc_auc
from rftlab.calibrate import calibrate_stage
from rftlab.grader.bundle import load_grader
from rftlab.grader.scoring import DEFAULT_WEIGHTS, combine_matrix, components
from rftlab.io import write_json
from rftlab.style.profile import build_profile_from_features

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(CORPUS))
    ap.add_argument("--authors", default="")
    ap.add_argument("--trials", type=int, default=80)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bar", type=float, default=0.94)
    args = ap.parse_args()
    t0 = time.perf_counter()
    corpus = Aozora(args.corpus)
    feats, by_author = corpus.feats, corpus.rows

    def comp_matrix(fs: list[dict], profile: dict, names: list[str]) -> np.ndarray:
        return np.array([[components(f, profile)[n] for n in names] for f in fs])

    chosen = corpus.chosen(args.authors)
    results = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-calibrate-"))
    for target in chosen:
        t1 = time.perf_counter()
        train, test = corpus.split(target)
        rows, fs = [], []
        for i in train:
            r = by_author[target][i]
            rows.append({"id": f"{target}-{i}", "user": target, "text": r["text"], "group": f"{target}:{r['work']}"})
            fs.append(feats(target, i))
        for a, i in corpus.background(target, "train"):
            r = by_author[a][i]
            rows.append({"id": f"{a}-{i}", "user": a, "text": r["text"], "group": f"{a}:{r['work']}"})
            fs.append(feats(a, i))
        work = tmp / target
        work.mkdir()
        (work / "messages.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        profile = build_profile_from_features([f for f, r in zip(fs, rows) if r["user"] == target],
                                              [f for f, r in zip(fs, rows) if r["user"] != target], author=target)
        write_json(work / "profile.json", profile)
        summary = calibrate_stage.run(work / "messages.jsonl", target, work / "profile.json", work / "grader.json",
                            trials=args.trials, seed=args.seed, folds=args.folds, register=False,
                            track=False, features=fs)
        grader = load_grader(work / "grader.json")
        names = sorted(grader.weights)
        names = [n for n in names if n in components(fs[0], grader.profile)]
        pos = comp_matrix([feats(target, i) for i in test], grader.profile, names)
        neg = comp_matrix([feats(a, i) for a, i in corpus.background(target, "test")], grader.profile, names)
        labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        C = np.vstack([pos, neg])
        auc = roc_auc(combine_matrix(C, names, grader.weights), labels)
        auc_default = roc_auc(combine_matrix(C, names, DEFAULT_WEIGHTS), labels)
        results[target] = {"test_auc": auc, "default_auc": auc_default, "cv_auc": summary["best_auc"],
                           "trials_per_s": summary["trials_per_s"]}
        print(f"author {target:>5}: test AUC {auc:.4f} (default weights {auc_default:.4f}; "
              f"CV {summary['best_auc']:.4f}; {summary['trials_per_s']} trials/s; "
              f"{time.perf_counter() - t1:.0f}s)", flush=True)
    mean = float(np.mean([r["test_auc"] for r in results.values()]))
    mean_default = float(np.mean([r["default_auc"] for r in results.values()]))
    print(f"mean test AUC over {len(results)} authors: {mean:.4f} calibrated, {mean_default:.4f} default weights "
          f"(bar {args.bar}; char n-gram LR 0.933; seed grader 0.709)")
    print(f"elapsed {time.perf_counter() - t0:.0f}s")
    sys.exit(0 if mean >= args.bar else 1)


if __name__ == "__main__":
    main()
