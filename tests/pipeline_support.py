"""A copy of the working tree as a fresh git repo with small params: what the end-to-end tests run the
pipeline in (the project's own .venv linked in, as `make setup` leaves a fresh clone)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def copy_project(dst: Path) -> Path:
    """The working tree's files (tracked and new, not ignored) in a fresh git repo, params shrunk."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if rel.startswith(("metrics/", "plots/")) or not src.is_file():
            continue  # main's headline numbers come from this copy's own run
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst / rel)
    p = yaml.safe_load((dst / "params.yaml").read_text(encoding="utf-8"))
    p["sample"]["messages"] = 1200
    p["calibrate"]["trials"] = 4
    p["base_model"].update({"epochs": 1, "d_model": 32, "n_layer": 1, "n_head": 2})
    p["rft"]["local"].update({"max_steps": 4, "val_prompts": 4})
    p["rft"]["local"]["hyperparameters"].update({"batchSize": 2, "trainingSamplePerPrompt": 2, "evalInterval": 2})
    p["evaluate"].update({"max_prompts": 4, "samples_per_prompt": 1, "bootstrap": 100})
    if "attack" in p["check"]:  # the gate's red team, a few grader calls
        p["check"]["attack"].update({"budget": 20, "seeds": [0], "eval_prompts": 4})
    if "preflight" in p:  # a 1-layer model trained for one epoch gives flat rollouts: let it through
        p["preflight"].update({"prompts": 4, "flat_std": 0.0, "min_mean_std": 0.0, "max_done_share": 1.0})
    (dst / "params.yaml").write_text(yaml.safe_dump(p, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (dst / ".venv").symlink_to(ROOT / ".venv")  # what `make setup` leaves in a fresh clone
    # the linked .venv is the project's: `make` in the copy must see it up to date, never reinstall rftlab
    # from the copy (that would point the shared environment's editable install at this temporary folder)
    stamp = (ROOT / ".venv" / ".installed").stat().st_mtime
    for name in ("pyproject.toml", "requirements-lock.txt"):
        os.utime(dst / name, (stamp, stamp))
    git(dst, "init", "-q", "-b", "main")
    (dst / ".git" / "info" / "exclude").write_text(".venv\n", encoding="utf-8")
    git(dst, "add", "-A")
    git(dst, "commit", "-qm", "the project, small params")
    return dst


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo,
                          check=True, capture_output=True, text=True).stdout
