"""Style x relevance vs style only: two local GRPO jobs from the same base model, one run.

    .venv/bin/python benchmarks/bench_relevance.py [--grader data/grader/grader.json]
        [--train data/prompts/train.jsonl] [--val data/prompts/val.jsonl] [--base data/models/base]
        [--steps 90] [--n 2] [--weight 1.0]

Needs the pipeline's outputs (`dvc repro` on the sample). Both jobs use the same grader profile
and weights, the same prompts, seed and hyperparameters (params.yaml `rft.local`); they differ in
the reward only: `style` (the bundle's relevance block removed) or `style x relevance`
(the offline proxy, reward = style x (1 - weight x (1 - relevance))). Then the base model and
both tuned models sample `n` completions per validation prompt (same seed, temperature 1.0,
inferenceMaxTokens) and every completion is scored on both axes: style (the grader's score)
and relevance (the proxy, grader/relevance.py).

Bar (issue 14): the style x relevance job gains style over the base model and keeps relevance
at least at the base model's, where the style-only job lowers relevance. Exits 1 otherwise.
Defaults: relevance weight 1.0 and 90 steps, three times the pipeline's 30 (params.yaml: weight
0.5): the sample's replies name random services, so the base model starts near chance (0.09) and
the tiny model needs room to learn to take a name from the prompt. docs/relevance.md has the figures.
MLflow: a throwaway store in a temp folder (the project's store is untouched).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def arm_grader(src: Path, dst: Path, relevance: dict | None) -> str:
    from rftlab.grader.bundle import load_grader, make_bundle, write_bundle

    g = load_grader(src)
    write_bundle(dst, make_bundle(g.profile, g.weights, meta=g.meta, relevance=relevance))
    return str(dst)


def train_arm(params, name: str, grader: str, args, work: Path) -> Path:
    from rftlab import tracking
    from rftlab.backends.local.reward import GraderReward
    from rftlab.backends.local.train import train
    from rftlab.jobs.spec import build_spec

    rft = params.rft.model_copy(update={"local": params.rft.local.model_copy(update={"max_steps": args.steps})})
    spec = build_spec(rft, train=args.train, val=args.val, grader=grader, base_model=args.base)
    job_dir = work / name
    t0 = time.perf_counter()
    with tracking.stage_run("rft-job", run_name=f"bench-{name}"):
        train(spec, job_dir, reward=GraderReward(grader), stop_requested=lambda: False)
    print(f"trained {name}: {args.steps} steps in {time.perf_counter() - t0:.0f}s", flush=True)
    return job_dir / "model"


def both_axes(model: Path, rows: list[dict], grader, args) -> tuple[float, float]:
    from rftlab.backends.local.generator import LocalGenerator
    from rftlab.grader.relevance import proxy_relevance

    gen = LocalGenerator(model)
    out = gen.generate([r["messages"] for r in rows], n=args.n, temperature=1.0, max_tokens=args.max_tokens, seed=0)
    styles, rels = [], []
    for r, samples in zip(rows, out, strict=True):
        prompt = [m["content"] for m in r["messages"] if m["role"] == "user"][-1]
        for c in samples:
            styles.append(grader.score(c.text, prompt=prompt)[0])
            rels.append(proxy_relevance(prompt, c.text).value)
    return sum(styles) / len(styles), sum(rels) / len(rels)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grader", default="data/grader/grader.json")
    ap.add_argument("--train", default="data/prompts/train.jsonl")
    ap.add_argument("--val", default="data/prompts/val.jsonl")
    ap.add_argument("--base", default="data/models/base")
    ap.add_argument("--steps", type=int, default=90)
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--weight", type=float, default=1.0)
    args = ap.parse_args()
    for p in (args.grader, args.train, args.val, args.base):
        if not Path(p).exists():
            print(f"{p} not found: run `dvc repro` first (the pipeline's outputs)", file=sys.stderr)
            return 2
    work = Path(tempfile.mkdtemp(prefix="bench-relevance-"))
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"

    import torch

    from rftlab.config import load_params
    from rftlab.grader.bundle import load_grader
    from rftlab.backends.local.train import read_prompts

    torch.set_num_threads(2)
    params = load_params()
    style_only = arm_grader(Path(args.grader), work / "style.json", None)
    both = arm_grader(Path(args.grader), work / "both.json", {"judge": "proxy", "weight": args.weight})
    models = {"base": Path(args.base),
              "style only": train_arm(params, "style", style_only, args, work),
              "style x relevance": train_arm(params, "both", both, args, work)}
    rows = read_prompts(args.val)
    grader = load_grader(style_only)
    res = {name: both_axes(path, rows, grader, args) for name, path in models.items()}
    print(f"\n{len(rows)} validation prompts x {args.n} samples, {args.steps} GRPO steps per job")
    print(f"{'model':<20} {'style':>8} {'relevance':>10}")
    for name, (style, rel) in res.items():
        print(f"{name:<20} {style:>8.3f} {rel:>10.3f}")
    (b_s, b_r), (_, s_r), (x_s, x_r) = res["base"], res["style only"], res["style x relevance"]
    ok = x_s > b_s and x_r >= b_r and s_r < b_r
    print(f"style x relevance: style {x_s - b_s:+.3f}, relevance {x_r - b_r:+.3f} vs base; "
          f"style only: relevance {s_r - b_r:+.3f} -> {'OK' if ok else 'NOT MET'}")
    print(json.dumps({k: {"style": round(v[0], 4), "relevance": round(v[1], 4)} for k, v in res.items()}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
