"""PyTorch's CPU numerics pinned to one instruction set, so trained weights, sampled texts and every
figure drawn from them have the same bytes on every x86-64 CPU with AVX2 (Intel since Haswell, AMD
since Zen) (docs/records.md#same-bytes-on-every-machine).

Left alone, each library picks its kernels by the CPU it finds: ATen's vectorised kernels (AVX-512 on
this machine, AVX2 on another), MKL's GEMM code path and oneDNN's ISA. Each choice sums in its own
order, so the base model trained on an Intel and on an AMD machine differed from the first step on.
Pinned here, before torch is imported anywhere in the process (rftlab/__init__.py calls `pin`):
- ATEN_CPU_CAPABILITY=avx2: ATen's dispatch level (PyTorch docs, "CPU capability");
- MKL_CBWR=AVX2: MKL's Conditional Numerical Reproducibility, the AVX2 code path on any CPU that has it
  (oneMKL developer guide, "Obtaining Numerically Reproducible Results");
- ONEDNN_MAX_CPU_ISA=AVX2: oneDNN's highest ISA (oneDNN docs, "CPU Dispatcher Control");
- one intra-op thread (`load_torch`): a sum split over N threads is added in another order.
A variable the user has set is kept. Cost on this machine: benchmarks/bench_determinism.py.
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)

PINNED = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
THREADS = 1


def pin() -> None:
    """Set the pinned variables the user has not set (only has an effect before torch is imported)."""
    for key, value in PINNED.items():
        os.environ.setdefault(key, value)


def load_torch(threads: int = THREADS) -> Any:
    """torch, with the pinned numerics and a fixed intra-op thread count."""
    pin()
    # torch loads only when a model is trained or sampled
    import torch

    torch.set_num_threads(threads)
    found = torch.backends.cpu.get_cpu_capability()
    wanted = os.environ["ATEN_CPU_CAPABILITY"].upper()
    if found.upper() != wanted:
        log.warning("torch runs with CPU capability %s, not %s: its results may differ from other machines'",
                    found, wanted)
    return torch
