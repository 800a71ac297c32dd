"""Ingest throughput and peak memory on generated exports of 100 k and 1 M messages.

    .venv/bin/python benchmarks/bench_ingest.py [--sizes 100000 1000000] [--keep DIR]

Each export is an unpacked folder with the same day-file size (10 channels x N days x
100 messages), so a streaming reader's peak memory must stay roughly flat while the
export grows 10x. Each ingest runs in a fresh subprocess; its peak RSS comes from
os.wait4 (ru_maxrss of that child alone). A child that only imports the ingest module
gives the interpreter's baseline. Prints messages/s, peak RSS and the 1M/100k ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHANNELS = 10
PER_DAY = 100
USERS = [f"U{i:04d}" for i in range(40)]
WORDS = ["Lambda", "S3", "IAM", "デプロイ", "ログ", "権限", "コスト", "監視", "設定", "レビュー", "障害", "リリース"]
ENDINGS = ["でござる。", "です！", "だね w", "。", "しました。", "かな？"]

CHILD = """
import json, sys, time
from rftlab.config import IngestParams
from rftlab.slack import ingest_stage
if sys.argv[1] == "--baseline":
    print(json.dumps({}))
    raise SystemExit
t = time.perf_counter()
rep = ingest_stage.run(sys.argv[1], sys.argv[2], params=IngestParams(), track=False)
secs = time.perf_counter() - t
print(json.dumps({"records": rep["records"], "kept": rep["messages_kept"], "seconds": secs}))
"""


def make_export(root: Path, n_messages: int, seed: int = 0) -> Path:
    """Write an export folder of about n_messages records, fast (no zip)."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    users = [{"id": u, "name": f"user{i}", "profile": {"display_name": f"ユーザー{i}"}} for i, u in enumerate(USERS)]
    (root / "users.json").write_text(json.dumps(users, ensure_ascii=False), encoding="utf-8")
    channels = [{"id": f"C{c:04d}", "name": f"ch-{c}"} for c in range(CHANNELS)]
    (root / "channels.json").write_text(json.dumps(channels), encoding="utf-8")
    days = max(1, n_messages // (CHANNELS * PER_DAY))
    start = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    for c in range(CHANNELS):
        folder = root / f"ch-{c}"
        folder.mkdir(exist_ok=True)
        for d in range(days):
            day = start + dt.timedelta(days=d)
            base = int(day.timestamp())
            records, parent = [], None
            for i in range(PER_DAY):
                user = rng.choice(USERS)
                text = f"{rng.choice(WORDS)}の{rng.choice(WORDS)}を確認{rng.choice(ENDINGS)}"
                r = rng.random()
                if r < 0.05:
                    text = f"<@{rng.choice(USERS)}> " + text
                elif r < 0.08:
                    text += f" <https://example.com/{rng.randint(1, 10**6)}?token=abc{i}|資料>"
                elif r < 0.09:
                    text += f" user{i}@example.com 090-1234-{rng.randint(1000, 9999)}"
                m = {"type": "message", "user": user, "text": text, "ts": f"{base + i * 60}.{i:06d}"}
                if r > 0.97:
                    m = {"type": "message", "subtype": "bot_message", "bot_id": "B1", "text": text, "ts": m["ts"]}
                elif parent and r > 0.85:
                    m["thread_ts"] = parent
                elif r > 0.80:
                    m["thread_ts"] = parent = m["ts"]
                records.append(m)
            (folder / f"{day.date().isoformat()}.json").write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return root


def run_child(*args: str) -> tuple[dict, float]:
    """Run CHILD in a fresh interpreter; returns (its JSON output, its peak RSS in MiB)."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, *args], stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"ingest child failed with exit code {proc.returncode}")
    return json.loads(out), usage.ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--keep", type=Path, help="write exports here and keep them (default: a temp dir)")
    args = ap.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    _, base_rss = run_child("--baseline")
    print(f"baseline (python + rftlab.slack.ingest imported): peak RSS {base_rss:.1f} MiB")
    rows = []
    for n in args.sizes:
        t = time.perf_counter()
        export = make_export(tmp / f"export-{n}", n)
        gen_s = time.perf_counter() - t
        res, rss = run_child(str(export), str(tmp / f"messages-{n}.jsonl"))
        rate = res["records"] / res["seconds"]
        rows.append((n, res, rss, rate))
        print(
            f"{res['records']:>9,} records ({res['kept']:,} kept): {res['seconds']:7.1f} s, "
            f"{rate:,.0f} messages/s, peak RSS {rss:.1f} MiB (export generated in {gen_s:.0f} s)",
            flush=True,
        )
        if not args.keep:
            (tmp / f"messages-{n}.jsonl").unlink()
    if len(rows) >= 2:
        (n0, _, r0, v0), (n1, _, r1, v1) = rows[0], rows[-1]
        print(f"peak RSS ratio {n1:,}/{n0:,} messages: {r1 / r0:.2f}x (above the import baseline: "
              f"{r0 - base_rss:+.1f} MiB -> {r1 - base_rss:+.1f} MiB); throughput ratio {v1 / v0:.2f}x")
    if not args.keep:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
