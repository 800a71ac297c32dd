"""include_target true vs false for the local base model: which one gives GRPO room to work?

    .venv/bin/python benchmarks/bench_rft_base_choice.py [--messages data/interim/messages.jsonl]
        [--val data/prompts/val.jsonl] [--grader data/grader/grader.json] [--author U01CTO]

Trains both base models (params `base_model`, only include_target differs) and reports, on
the validation prompts with 4 samples each (GRPO's group): the mean grader score, the share
of groups whose 4 rewards all tie (GRPO learns nothing from those), and the headroom 1 - mean.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from rftlab.config import load_params
from rftlab.backends.local import base_model_stage
from rftlab.backends.local.generation import load_local, score_prompts
from rftlab.backends.local.train import read_prompts
from rftlab.backends.local.reward import GraderReward


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", default="data/interim/messages.jsonl")
    ap.add_argument("--val", default="data/prompts/val.jsonl")
    ap.add_argument("--grader", default="data/grader/grader.json")
    ap.add_argument("--author", default=None)
    ap.add_argument("--group", type=int, default=4)
    args = ap.parse_args()
    params = load_params()
    author = args.author or params.profile.author
    rows = read_prompts(args.val)
    reward = GraderReward(args.grader)
    out = {}
    for include in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.time()
            bm = params.base_model.model_copy(update={"include_target": include})
            summary = base_model_stage.run(Path(args.messages), Path(tmp), bm, author=author, track=False).summary
            model, tok = load_local(tmp)
            mean, samples = score_prompts(model, tok, rows, reward, n=args.group, temperature=1.0, max_tokens=32, seed=0)
        groups = [samples[i : i + args.group] for i in range(0, len(samples), args.group)]
        ties = sum(statistics.pstdev([s["reward"] for s in g]) < 1e-6 for g in groups) / len(groups)
        out[f"include_target={include}"] = {"val_mean": round(mean, 4), "zero_spread_groups": round(ties, 3),
                                             "headroom": round(1 - mean, 4), "final_loss": round(summary["final_loss"], 3),
                                             "seconds": round(time.time() - t0, 1)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
