"""Run every benchmark once, in order, and print what each measured (`make bench`).

The quality benchmarks need ../shared/corpora (skipped with a note when it is absent);
bench_rft_uplift needs the pipeline's outputs (`make pipeline` first). Speed figures are
ratios and rates measured inside one run, pinned to one core where the script says so.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parents[0].parent / "shared" / "corpora" / "aozora12.jsonl"
ORDER = [
    ("bench_grader_speed.py", True),
    ("bench_grader_aozora.py", True),
    ("bench_calibrate_speed.py", True),
    ("bench_calibrate_aozora.py", True),
    ("bench_rft_uplift.py", False),
    ("bench_search_pruning.py", False),
    ("bench_redteam.py", False),
    ("bench_relevance.py", False),
    ("bench_records.py", False),
    ("bench_handler_payload.py", False),
    ("bench_ingest.py", False),
    ("bench_pii.py", False),
]


def main() -> int:
    failed = []
    for name, needs_corpus in ORDER:
        if needs_corpus and not CORPUS.exists():
            print(f"== {name}: skipped, {CORPUS} not found")
            continue
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / name)], cwd=HERE.parent)
        print(f"== {name}: exit {rc} in {time.perf_counter() - t0:.0f}s", flush=True)
        if rc:
            failed.append(name)
    print("all benchmarks met their bars" if not failed else f"below the bar or failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
