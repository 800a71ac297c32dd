"""Base vs tuned local model: mean grader score on the validation prompts, and the uplift.

    .venv/bin/python benchmarks/bench_rft_uplift.py [--base data/models/base] [--tuned data/rft/model]
        [--val data/prompts/val.jsonl] [--grader data/grader/grader.json] [--n 2] [--max-tokens 32] [--seed 0]

Both models sample `n` completions per validation prompt with the same seed, temperature
1.0 and token budget, scored through the grader's Lambda code path (to_payload + handle).
Bar (issue 6): tuned beats base by >= 20% relative. Exits 1 when it does not.
Also prints the share of completions with the target's hallmark ending (ござる family) and
the mean length, to spot reward hacking by eye.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from rftlab.backends.local.generation import load_local, score_prompts
from rftlab.backends.local.train import read_prompts
from rftlab.backends.local.reward import GraderReward


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="data/models/base")
    ap.add_argument("--tuned", default="data/rft/model")
    ap.add_argument("--val", default="data/prompts/val.jsonl")
    ap.add_argument("--grader", default="data/grader/grader.json")
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bar", type=float, default=20.0, help="required relative uplift, percent")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    rows = read_prompts(args.val)
    reward = GraderReward(args.grader)
    result: dict[str, dict] = {}
    for name, path in (("base", args.base), ("tuned", args.tuned)):
        t0 = time.time()
        model, tok = load_local(path)
        mean, samples = score_prompts(model, tok, rows, reward, n=args.n, temperature=1.0,
                                      max_tokens=args.max_tokens, seed=args.seed)
        texts = [s["completion"] for s in samples]
        result[name] = {
            "mean": round(mean, 4),
            "gozaru_share": round(sum("ござ" in t for t in texts) / len(texts), 3),
            "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
            "seconds": round(time.time() - t0, 1),
            "examples": texts[:3],
        }
    base, tuned = result["base"]["mean"], result["tuned"]["mean"]
    uplift = 100.0 * (tuned - base) / base if base > 0 else float("inf")
    print(json.dumps(result, ensure_ascii=False, indent=2))
    print(f"val prompts {len(rows)} x {args.n} samples, grader {reward.version}")
    print(f"base {base:.4f} -> tuned {tuned:.4f}: relative uplift {uplift:+.1f}% (bar +{args.bar:.0f}%)")
    return 0 if uplift >= args.bar else 1


if __name__ == "__main__":
    sys.exit(main())
