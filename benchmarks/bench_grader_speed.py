"""Grader speed: texts/s on one core for ~100-character texts vs a bare fugashi pass, and cold start.

    .venv/bin/python benchmarks/bench_grader_speed.py [--corpus PATH] [--n 3000]

Ratio = grader texts/s / bare-fugashi texts/s (thread CPU time, interleaved best of N), where the bare pass tokenises the same texts
and reads each token's surface, pos1 and lemma (target >= 0.5). Cold start = a fresh
subprocess importing the handler, loading the bundle and scoring one text (target <= 1.5 s).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpora" / "aozora12.jsonl"


def texts_100(corpus: Path, n: int) -> tuple[list[str], list[dict]]:
    """~100-character texts (consecutive rows joined per author) and a messages list for a profile."""
    texts, rows, buf, author = [], [], "", None
    with open(corpus, encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            rows.append({"user": r["author"], "text": r["text"]})
            if r["author"] != author:
                buf, author = "", r["author"]
            buf += r["text"]
            if len(buf) >= 100:
                texts.append(buf[:100])
                buf = ""
    step = max(1, len(texts) // n)
    return texts[::step][:n], rows[::4]


def best_of(fn, texts: list[str], repeats: int = 3) -> float:
    """texts/s on this thread's CPU time (time spent descheduled on a shared machine excluded)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.thread_time()
        fn(texts)
        best = min(best, time.thread_time() - t0)
    return len(texts) / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", default=str(CORPUS))
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    from rftlab.grader.bundle import load_grader, make_bundle, write_bundle
    from rftlab.style.profile import build_profile
    from rftlab.style.tagger import tagger

    texts, rows = texts_100(Path(args.corpus), args.n)
    profile = build_profile(rows, rows[0]["user"])
    tmp = Path(tempfile.mkdtemp()) / "grader.json"
    write_bundle(tmp, make_bundle(profile, {}))
    grader = load_grader(tmp)
    tag = tagger()

    def bare(ts: list[str]) -> None:
        for t in ts:
            for w in tag(t):
                f = w.feature
                (w.surface, f.pos1, f.lemma)

    def graded(ts: list[str]) -> None:
        for t in ts:
            grader.score(t)

    graded(texts[:50])
    bare(texts[:50])
    # interleaved best-of-N: the machine is shared, so take each side's least-disturbed pass
    rate_bare = rate_grader = 0.0
    for _ in range(args.repeats):
        rate_bare = max(rate_bare, best_of(bare, texts, 1))
        rate_grader = max(rate_grader, best_of(graded, texts, 1))
    print(f"texts: {len(texts)} x {sum(map(len, texts)) / len(texts):.0f} chars; profile {tmp.stat().st_size / 1e6:.2f} MB")
    print(f"bare fugashi (surface, pos1, lemma): {rate_bare:,.0f} texts/s")
    print(f"grader score:                        {rate_grader:,.0f} texts/s")
    print(f"ratio grader / bare fugashi: {rate_grader / rate_bare:.2f}  (target >= 0.5)")
    code = ("import time; t0 = time.perf_counter(); "
            "from rftlab.grader.handler import handle; from rftlab.grader.bundle import load_grader; "
            f"g = load_grader({str(tmp)!r}); "
            "handle([{'id': '1', 'messages': [{'role': 'user', 'content': '明日の件どう?'}, "
            "{'role': 'assistant', 'content': '承知しました。明日までに対応します。'}]}], g); "
            "print(time.perf_counter() - t0)")
    colds = []
    for _ in range(3):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONDONTWRITEBYTECODE": "0"})
        colds.append((time.perf_counter() - t0, float(out.stdout.strip().splitlines()[-1])))
    wall = min(c[0] for c in colds)
    inproc = min(c[1] for c in colds)
    print(f"cold start (fresh process: interpreter + import + load bundle + first score): {wall:.2f} s "
          f"(in-process part {inproc:.2f} s; target <= 1.5 s)")


if __name__ == "__main__":
    main()
