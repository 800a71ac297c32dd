"""Does a fresh `dvc repro` reproduce the committed dvc.lock? Output by output, by DVC's own digests.

    python -m rftlab.lockcheck COMMITTED_LOCK [FRESH_LOCK]      # FRESH_LOCK defaults to ./dvc.lock
    git show HEAD:dvc.lock > /tmp/committed.lock && python -m rftlab.lockcheck /tmp/committed.lock

Prints one line per output (stage, path, committed and fresh md5, same/differs) and exits 1 when
an output that must be the same on every x86-64 machine differs or is missing (`REQUIRED`): the
data products under data/ (messages, profile, grader bundle, prompt sets, trained base and tuned
weights, job and deployment records) and the headline metrics under metrics/ that `dvc exp show`
compares (docs/records.md#same-bytes-on-every-machine). Reports and plots (reports/, plots/) are
reported, not required: PNG bytes belong to matplotlib's and libpng's builds.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

REQUIRED = ("data/", "metrics/")


def outputs(lock: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """{path: (stage, md5)} of every cached output in a parsed dvc.lock."""
    found: dict[str, tuple[str, str]] = {}
    for stage, body in (lock.get("stages") or {}).items():
        for out in body.get("outs") or []:
            if out.get("md5"):
                found[str(out["path"])] = (stage, str(out["md5"]))
    return found


def compare(committed: dict[str, Any], fresh: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(report lines, paths of data products that differ or are missing)."""
    old, new = outputs(committed), outputs(fresh)
    lines, bad = [], []
    for path in sorted(set(old) | set(new), key=lambda p: (old.get(p, new.get(p))[0], p)):
        stage = (old.get(path) or new.get(path))[0]
        a, b = (old.get(path, ("", "-"))[1], new.get(path, ("", "-"))[1])
        same = a == b
        required = path.startswith(REQUIRED)
        verdict = "same" if same else "DIFFERS" if required else "differs (reported, not required)"
        lines.append(f"{stage:<11} {path:<42} {a[:10]:<10} {b[:10]:<10} {verdict}")
        if not same and required:
            bad.append(path)
    return lines, bad


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    paths = [Path(args[0]), Path(args[1] if len(args) == 2 else "dvc.lock")]
    locks = []
    for p in paths:
        if not p.exists():
            print(f"error: {p}: not found", file=sys.stderr)
            return 2
        locks.append(yaml.safe_load(p.read_text(encoding="utf-8")) or {})
    lines, bad = compare(*locks)
    print(f"{'stage':<11} {'output':<42} {'committed':<10} {'fresh':<10}")
    print("\n".join(lines))
    if bad:
        print(f"error: {len(bad)} output(s) differ from {paths[0]}: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
