"""The base model's weights have the same bytes whatever the CPU's kernels: each run is a fresh
process under another MKL instruction set, numpy SIMD level, OpenBLAS kernel and thread count
(rftlab/torch_numerics.py; docs/records.md#same-bytes-on-every-machine)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from calibrate_support import synth_messages

# MKL_ENABLE_INSTRUCTIONS=AVX2 is how MKL behaves on a CPU without AVX-512 (an AVX2 machine); without
# rftlab's MKL_CBWR pin it changed the weights (measured: docs/records.md).
SETTINGS = {
    "as installed": {},
    "an AVX2 machine with 4 threads": {
        "MKL_ENABLE_INSTRUCTIONS": "AVX2", "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
        "OPENBLAS_CORETYPE": "Haswell", "OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "4",
    },
}


def _weights_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            h.update(f.relative_to(folder).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


@pytest.mark.slow  # trains a model twice
def test_base_model_weights_do_not_depend_on_the_cpu(tmp_path):
    params = {"tracking": {"experiment": "determinism", "register_models": False},
              "base_model": {"vocab_size": 300, "d_model": 32, "n_layer": 1, "n_head": 2, "context": 32,
                             "epochs": 1, "batch_size": 16}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    (tmp_path / "messages.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in synth_messages(200)), encoding="utf-8")
    digests = {}
    for name, extra in SETTINGS.items():
        out = tmp_path / name.replace(" ", "_")
        env = {**os.environ, **extra, "RFTLAB_PARAMS": str(tmp_path / "params.yaml"),
               "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
        for key in ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA"):
            env.pop(key, None)  # as a user's shell has them: rftlab pins them itself
        done = subprocess.run(
            [sys.executable, "-m", "rftlab", "base-model", "--messages", str(tmp_path / "messages.jsonl"),
             "--out", str(out / "base"), "--metrics", str(out / "report.json")],
            env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"
        digests[name] = _weights_digest(out / "base")
    assert len(set(digests.values())) == 1, digests
