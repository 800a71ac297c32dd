"""Job run names say what differs: the DVC experiment and the `rft` params it changed."""

from __future__ import annotations

import subprocess

import yaml

from rftlab.tracking.naming import changed_params, job_run_name, new_run_name, run_name

BASE = {"rft": {"seed": 0, "local": {"hyperparameters": {"learningRate": 1e-3, "batchSize": 4}, "max_steps": 30}},
        "evaluate": {"seed": 0}}


def test_changed_params_lists_only_rft_leaves_that_differ():
    now = yaml.safe_load(yaml.safe_dump(BASE))
    now["rft"]["local"]["hyperparameters"]["learningRate"] = 3e-4
    now["evaluate"]["seed"] = 9  # another section: not part of the job's name
    assert changed_params(now, BASE) == {"rft.local.hyperparameters.learningRate": 3e-4}
    assert changed_params(BASE, BASE) == {}


def test_run_name_puts_the_experiment_before_the_changes_and_caps_them():
    assert run_name("lr3e-4", {"rft.local.hyperparameters.learningRate": 3e-4}, "job") == "lr3e-4: learningRate=0.0003"
    assert run_name("main", {}, "job") == "main"
    assert run_name(None, {}, "rft-local-abc") == "rft-local-abc"
    many = {f"rft.k{i}": i for i in range(5)}
    assert run_name("x", many, "job") == "x: k0=0, k1=1, k2=2, +2 more"


def _git(repo, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo, check=True,
                   capture_output=True)


def test_job_run_name_inside_a_dvc_experiment_and_on_a_branch(tmp_path, monkeypatch):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(BASE), encoding="utf-8")
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", "params.yaml")
    _git(tmp_path, "commit", "-qm", "params")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    monkeypatch.delenv("DVC_EXP_BASELINE_REV", raising=False)
    assert job_run_name("rft-local-abc") == "main"

    changed = yaml.safe_load(yaml.safe_dump(BASE))
    changed["rft"]["local"]["hyperparameters"]["learningRate"] = 3e-4
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(changed), encoding="utf-8")
    monkeypatch.setenv("DVC_EXP_NAME", "lr3e-4")  # what `dvc exp run -n lr3e-4` sets for its stages
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", head)
    assert job_run_name("rft-local-abc") == "lr3e-4: learningRate=0.0003"


def test_a_remote_job_synced_outside_a_stage_keeps_its_own_name(monkeypatch):
    monkeypatch.delenv("DVC_STAGE", raising=False)
    assert new_run_name("rftlab-job-1") == "rftlab-job-1"


def test_a_search_trial_is_named_after_the_hyperparameters_its_spec_changed(tmp_path, monkeypatch):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(BASE), encoding="utf-8")
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", "params.yaml")
    _git(tmp_path, "commit", "-qm", "params")
    monkeypatch.chdir(tmp_path)
    for var in ("DVC_EXP_NAME", "DVC_EXP_BASELINE_REV"):
        monkeypatch.delenv(var, raising=False)
    hp = {"learningRate": 2e-4, "batchSize": 4}  # params.yaml untouched: the trial set learningRate itself
    assert job_run_name("rft-local-abc", hp, "local") == "main: learningRate=0.0002"
