"""What the CPU-independent numerics cost: the base-model stage and a short local RFT job, with
rftlab's pinned kernels (rftlab/torch_numerics.py) and with the kernels this CPU would pick.

    .venv/bin/python benchmarks/bench_determinism.py [--messages data/interim/messages.jsonl]
        [--train data/prompts/train.jsonl] [--grader data/grader/grader.json] [--steps 10] [--repeats 2]

Runs after `make pipeline` (it reads the pipeline's messages, prompt set and grader). Each
measurement is one whole `rftlab` process, alternating pinned and native, all in this one run;
prints the seconds of each and the ratio pinned / native, plus whether the weights match.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

# What the libraries pick by themselves on this CPU: ATen's best level, MKL and oneDNN unrestricted.
NATIVE = {"ATEN_CPU_CAPABILITY": "default-native", "MKL_CBWR": "AUTO", "ONEDNN_MAX_CPU_ISA": "ALL"}


def native_env() -> dict[str, str]:
    # torch names its best level; probing it in a child keeps this process free of torch
    probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                           env={k: v for k, v in os.environ.items() if k not in NATIVE}, capture_output=True,
                           text=True, check=True)
    return {**NATIVE, "ATEN_CPU_CAPABILITY": probe.stdout.strip().lower()}


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def run(args: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rftlab", *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", default="data/interim/messages.jsonl")
    ap.add_argument("--train", default="data/prompts/train.jsonl")
    ap.add_argument("--grader", default="data/grader/grader.json")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    base_env = {k: v for k, v in os.environ.items() if k not in NATIVE}
    modes = {"pinned": base_env, "native": {**base_env, **native_env()}}
    print(f"native kernels: {modes['native']['ATEN_CPU_CAPABILITY']}; pinned: avx2, MKL_CBWR=AVX2, oneDNN AVX2")
    seconds: dict[str, dict[str, list[float]]] = {m: {"base_model": [], "rft": []} for m in modes}
    weights: dict[str, set[str]] = {m: set() for m in modes}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        params = yaml.safe_load(Path("params.yaml").read_text(encoding="utf-8"))
        params["rft"]["local"]["max_steps"] = a.steps
        params["tracking"] = {**params.get("tracking", {}), "register_models": False}
        (root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
        for rep in range(a.repeats):
            for mode, env in modes.items():
                out = root / f"{mode}-{rep}"
                env = {**env, "RFTLAB_PARAMS": str(root / "params.yaml"),
                       "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"}
                seconds[mode]["base_model"].append(run(
                    ["base-model", "--messages", a.messages, "--out", str(out / "base"),
                     "--metrics", str(out / "base.json")], env))
                seconds[mode]["rft"].append(run(
                    ["rft", "--train", a.train, "--grader", a.grader, "--base-model", str(out / "base"),
                     "--job-out", str(out / "job.json"), "--model-out", str(out / "model"),
                     "--metrics", str(out / "rft.json")], {**env, "RFTLAB_JOBS_DIR": str(out / "jobs")}))
                weights[mode].add(digest(out / "base"))
    for stage in ("base_model", "rft"):
        p, n = statistics.median(seconds["pinned"][stage]), statistics.median(seconds["native"][stage])
        print(f"{stage:<11} pinned {p:6.1f} s  native {n:6.1f} s  pinned/native {p / n:.2f}")
    for mode, found in weights.items():
        print(f"base weights {mode}: {', '.join(sorted(found))} ({'one' if len(found) == 1 else 'several'} "
              f"digest over {a.repeats} runs)")


if __name__ == "__main__":
    main()
