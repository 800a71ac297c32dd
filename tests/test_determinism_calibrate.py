"""The profile and the calibrated grader bundle have the same bytes whatever the CPU's floating-point
paths: each run below is a fresh process under another numpy SIMD dispatch, OpenBLAS kernel and
thread count (docs/records.md#same-bytes-on-every-machine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from calibrate_support import AUTHOR, synth_messages

# What differs between the machines CI and users run on: numpy's SIMD level (AVX-512 vs AVX2), the
# OpenBLAS kernel chosen for the CPU (OPENBLAS_CORETYPE, honoured by numpy's dynamic-arch OpenBLAS)
# and the BLAS thread count. Before the rounding in rftlab/numeric.py, `Haswell` alone changed the
# sample's grader bundle (its `bias`, a BLAS product) and so its version.
SETTINGS = {
    "as installed": {},
    "avx2, haswell kernels, 1 thread": {
        "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
        "OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
    },
    "sandybridge kernels, 2 threads": {"OPENBLAS_CORETYPE": "Sandybridge", "OPENBLAS_NUM_THREADS": "2"},
}


def _run(ws: Path, name: str, env_extra: dict[str, str]) -> dict[str, bytes]:
    out = ws / name.replace(" ", "_").replace(",", "")
    env = {**os.environ, **env_extra, "MLFLOW_TRACKING_URI": f"sqlite:///{out / 'mlflow.db'}"}
    out.mkdir()
    cli = [sys.executable, "-m", "rftlab"]
    for args in (
        ["profile", "--messages", str(ws / "messages.jsonl"), "--author", AUTHOR, "--out", str(out / "profile.json")],
        ["calibrate", "--messages", str(ws / "messages.jsonl"), "--author", AUTHOR, "--profile",
         str(out / "profile.json"), "--out", str(out / "grader.json"), "--metrics", str(out / "metrics.json"),
         "--plots", str(out / "plots")],
    ):
        done = subprocess.run(cli + args, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"
    return {f: (out / f).read_bytes() for f in ("profile.json", "grader.json")}


@pytest.mark.slow  # six CLI processes (profile + calibration under three settings)
def test_profile_and_grader_bundle_bytes_do_not_depend_on_the_cpu(tmp_path, monkeypatch):
    params = {"tracking": {"experiment": "determinism", "register_models": False},
              "calibrate": {"trials": 12, "folds": 3, "seed": 0}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    monkeypatch.setenv("RFTLAB_PARAMS", str(tmp_path / "params.yaml"))
    rows = synth_messages(240, overlap=0.45)
    (tmp_path / "messages.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")

    runs = {name: _run(tmp_path, name, env) for name, env in SETTINGS.items()}
    first_name, first = next(iter(runs.items()))
    for name, files in runs.items():
        for f, data in files.items():
            assert data == first[f], f"{f} differs between {first_name!r} and {name!r}"
    bundle = json.loads(first["grader.json"])
    assert bundle["meta"]["calibration"]["study"], "the bundle came out of the search"


@pytest.mark.parametrize("value", [0.1 + 0.2, 2.9212020905976583, -1e-300, 123456789.123456789])
def test_stable_rounding_absorbs_last_bit_noise(value):
    from rftlab.numeric import stable

    noisy = [value, value * (1 + 2**-52), value * (1 - 2**-52)]
    assert len({stable(v) for v in noisy}) == 1
    assert stable(stable(value)) == stable(value)
    assert abs(stable(value) - value) <= abs(value) * 1e-9
