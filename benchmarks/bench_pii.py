"""PII detection: recall per kind on the project's labelled set, false positives on clean text.

    .venv/bin/python benchmarks/bench_pii.py [--seed 0] [--repeats 3] [--show 10]

Recall: rftlab.privacy.evalset.build(seed) plants one value per message (every kind, in forms
and contexts: glued to kana/kanji, brackets, full-width, URLs, code); a value counts as found
when a finding OF ITS KIND covers all of its characters. Printed per kind and per context.

False positives: the sample export (`rftlab sample` with default params, generated here in a
temporary folder) is ingested WITHOUT scrubbing; the messages into which the generator planted
contact data or secrets (its `連絡先:`, `緊急時は`, `代表 03-` decorations and its three leaks)
are set aside, and every other message is clean: any finding in one is a false positive. With
../shared/corpora/aozora12.jsonl present, the same rate on 12 authors' literary text too.
Also prints scrub throughput on the sample (messages/s, one run).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from rftlab.config import IngestParams, SampleParams
from rftlab.privacy.detect import KINDS, find
from rftlab.privacy.evalset import CONTEXTS, build
from rftlab.slack import ingest_stage
from rftlab.slack import sample_stage

# what the sample generator plants (rftlab/slack/sample_text.py decorate, sample.py leaks)
PLANTED_MARKERS = ("連絡先: ", "緊急時は ", "代表 03-", "xoxb-", "X-Amz-Signature", "AKIA")
AOZORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "aozora12.jsonl"


def recall(seed: int, repeats: int) -> tuple[dict, dict, list]:
    hits: dict[str, Counter] = defaultdict(Counter)
    totals: dict[str, Counter] = defaultdict(Counter)
    misses = []
    for s in build(seed, repeats):
        a, b = s.span
        ok = any(f.kind == s.kind and f.start <= a and f.end >= b for f in find(s.text))
        totals[s.kind][s.context] += 1
        hits[s.kind][s.context] += ok
        if not ok:
            misses.append(s)
    return hits, totals, misses


def print_recall(hits: dict, totals: dict) -> None:
    contexts = [c for c in CONTEXTS if any(totals[k][c] for k in totals)]
    print(f"{'kind':<12} {'n':>4} {'recall':>7}  " + " ".join(f"{c[:10]:>10}" for c in contexts))
    all_hits = all_n = 0
    for kind in KINDS:
        n, h = sum(totals[kind].values()), sum(hits[kind].values())
        if not n:
            continue
        all_hits, all_n = all_hits + h, all_n + n
        cells = " ".join(f"{hits[kind][c] / totals[kind][c]:>10.3f}" if totals[kind][c] else f"{'-':>10}"
                         for c in contexts)
        print(f"{kind:<12} {n:>4} {h / n:>7.3f}  {cells}")
    print(f"{'all':<12} {all_n:>4} {all_hits / all_n:>7.3f}")


def sample_messages(tmp: Path) -> list[dict]:
    export = tmp / "slack-export.zip"
    sample_stage.run(export, SampleParams())
    out = tmp / "messages.jsonl"
    ingest_stage.run(export, out, params=IngestParams(source=export, scrub_pii=False), track=False)
    with open(out, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def false_positives(texts: list[str], show: int, label: str) -> float:
    flagged = []
    t0 = time.perf_counter()
    for text in texts:
        found = find(text)
        if found:
            flagged.append((text, found))
    secs = time.perf_counter() - t0
    kinds = Counter(f.kind for _, fs in flagged for f in fs)
    rate = len(flagged) / len(texts) if texts else 0.0
    print(f"{label}: {len(flagged)} of {len(texts)} clean messages flagged = {rate:.4%} "
          f"(bar < 1%); by kind {dict(kinds) or '{}'}; {len(texts) / secs:,.0f} messages/s")
    for text, fs in flagged[:show]:
        print("   ", [(f.kind, text[f.start:f.end]) for f in fs], "in", text[:80].replace("\n", " "))
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--show", type=int, default=10, help="examples of misses / false positives to print")
    args = ap.parse_args()

    hits, totals, misses = recall(args.seed, args.repeats)
    print(f"recall on the labelled set (seed {args.seed}, {sum(sum(c.values()) for c in totals.values())} messages)")
    print_recall(hits, totals)
    for s in misses[: args.show]:
        print("  MISS", s.kind, s.form, s.context, repr(s.text[:80]))

    with tempfile.TemporaryDirectory() as tmp:
        rows = sample_messages(Path(tmp))
    planted = [r for r in rows if any(m in r["text"] for m in PLANTED_MARKERS)]
    clean = [r["text"] for r in rows if r not in planted]
    caught = sum(1 for r in planted if find(r["text"]))
    print(f"\nsample export: {len(rows)} messages, {len(planted)} with planted data "
          f"({caught} of them flagged), {len(clean)} clean")
    rate = false_positives(clean, args.show, "false positives, sample export")
    if AOZORA.exists():
        with open(AOZORA, encoding="utf-8") as fh:
            texts = [json.loads(line)["text"] for line in fh]
        false_positives(texts, args.show, "false positives, aozora12")
    sys.exit(0 if not misses and rate < 0.01 else 1)  # the bars: recall 1.0, false positives < 1 %


if __name__ == "__main__":
    main()
