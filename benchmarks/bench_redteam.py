"""The gate's red team at full budget: best attack vs the target's median real score.

    .venv/bin/python benchmarks/bench_redteam.py [--grader data/grader/grader.json]
        [--messages data/interim/messages.jsonl] [--prompts data/prompts/train.jsonl]
        [--budget 6000] [--seeds 3] [--style-only]

Needs the pipeline's outputs. Runs calibrate/attack.py exactly as the gate does (offline: the
relevance proxy in place of any Bedrock judge): constant replies, the target's best real messages
sent for every prompt, splices of real messages, and one seeded hill climb per seed over fragments
of the target's messages and the profile's favourites (`--budget` grader calls each). Every attack
is scored on 32 prompts the climb never saw. `--style-only` drops the bundle's relevance block (the
reward is the style score alone), for the before/after comparison.

Bar (issue 14): nothing at or above the target's median real score (his replies to the prompts,
scored with their prompts). Exits 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grader", default="data/grader/grader.json")
    ap.add_argument("--messages", default="data/interim/messages.jsonl")
    ap.add_argument("--prompts", default="data/prompts/train.jsonl")
    ap.add_argument("--author", default=None)
    ap.add_argument("--budget", type=int, default=6000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--panel", type=int, default=4)
    ap.add_argument("--style-only", action="store_true")
    args = ap.parse_args()
    for p in (args.grader, args.messages, args.prompts):
        if not Path(p).exists():
            print(f"{p} not found: run `dvc repro` first (the pipeline's outputs)", file=sys.stderr)
            return 2
    from rftlab.calibrate.attack import gate_attack
    from rftlab.calibrate.check import read_references
    from rftlab.grader.bundle import load_grader
    from rftlab.io import read_messages

    grader = load_grader(args.grader).offline()
    if args.style_only:
        grader.relevance = None
    author = args.author or str(grader.profile.get("author"))
    genuine = [m["text"] for m in read_messages(args.messages) if m["user"] == author]
    refs, prompts = read_references(Path(args.prompts))
    t0 = time.perf_counter()
    report, real = gate_attack(grader, refs, prompts, genuine, budget=args.budget, seeds=list(range(args.seeds)),
                               panel=args.panel, eval_prompts=32)
    n = len(real)
    print(f"grader {grader.version} ({'style only' if args.style_only else 'as bundled'}, "
          f"relevance {'off' if grader.relevance is None else grader.relevance.judge}); "
          f"{report.calls} grader calls in {time.perf_counter() - t0:.0f}s")
    print(f"target's real replies ({n}): median {report.bar:.3f}, p90 {real[int(0.9 * (n - 1))]:.3f}, max {real[-1]:.3f}")
    for kind in ("constant", "fixed_message", "splice", "hill_climb"):
        b = report.best(kind)
        if b is not None:
            extra = f", on its own prompts {b.panel_score:.3f}" if b.panel_score is not None else ""
            print(f"  {kind:<14} best {b.score:.3f} (style {b.style:.3f}{extra})  {b.text[:60]!r}")
    best = report.best()
    ok = best is not None and best.score < report.bar
    print(f"best attack {best.score:.3f} vs median {report.bar:.3f}: margin {report.bar - best.score:+.3f} -> "
          f"{'OK' if ok else 'AT OR ABOVE THE MEDIAN'}")
    for seed, trace in report.trace.items():
        print(f"  seed {seed}: best-so-far on its own prompts " +
              ", ".join(f"{c}:{s:.3f}" for c, s in trace[:: max(1, len(trace) // 6)][-6:]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
