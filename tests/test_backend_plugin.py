"""A backend is a plugin: a package that is not rftlab registers one through the `rftlab.backends` entry
point group, and `dvc repro` runs the whole pipeline on it (preflight, rft, deploy, evaluate), with no
rftlab file changed. The plugin is the smallest one the protocol allows (docs/backends.md): its jobs
complete at once and its models answer with canned replies."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml
from pipeline_support import copy_project

pytestmark = pytest.mark.slow

PLUGIN = '''
"""rftlab-echo: a backend whose jobs complete at once and whose tuned model answers like the target."""

from rftlab.config.base import Section
from rftlab.config.rft import HyperParameters
from rftlab.generation import Completion
from rftlab.jobs.state import JobState, default_store
from rftlab.plugins import BackendPlugin

REPLIES = {"base": ["はい。", "了解です。", "見ます。"], "tuned": ["承知したでござる。", "見るでござる。", "やるでござる。"]}


class EchoParams(Section):
    reply_set: str = "tuned"
    hyperparameters: HyperParameters = HyperParameters()


class EchoGenerator:
    def __init__(self, name):
        self.name = name

    def generate(self, prompts, *, n, temperature, max_tokens, seed):
        replies = REPLIES[self.name]
        return [[Completion(replies[(i + k) % len(replies)], 10, 5) for k in range(n)] for i in range(len(prompts))]


class EchoJobs:
    name = "echo"

    def __init__(self):
        self.store = default_store()

    def submit(self, spec):
        state = self.store.load(spec.spec_hash()) or JobState(
            job_id=spec.job_id(), spec_hash=spec.spec_hash(), backend="echo", status="Completed", model_id="echo-tuned")
        return self.store.save(state)

    def status(self, state):
        return state

    def wait(self, state, progress=True):
        return state

    def metrics(self, state):
        return [(0, {"train/reward_mean": 0.2, "val/reward_mean": 0.2}),
                (1, {"train/reward_mean": 0.6, "val/reward_mean": 0.5})]

    def stop(self, state):
        return state

    def model_id(self, state):
        return state.model_id

    def cost(self, state):
        return 0.0


class EchoPlugin(BackendPlugin):
    name = "echo"
    summary = "canned replies (rftlab's plugin test)"

    def params_section(self):
        return EchoParams

    def spec(self, rft, requested):
        return requested or "echo-base", {}

    def create(self, rft, **kw):
        return EchoJobs()

    def generators(self, record, params):
        return EchoGenerator("base"), EchoGenerator("tuned")

    def rollout_generator(self, spec, params):
        return EchoGenerator("base")
'''


def _install_plugin(site: Path) -> None:
    """A distribution on sys.path with an entry point, as `pip install rftlab-echo` would leave it."""
    (site / "rftlab_echo").mkdir(parents=True)
    (site / "rftlab_echo" / "__init__.py").write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    info = site / "rftlab_echo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rftlab-echo\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[rftlab.backends]\necho = rftlab_echo:EchoPlugin\n", encoding="utf-8")


def test_a_backend_from_another_package_runs_dvc_repro_end_to_end(tmp_path):
    _install_plugin(tmp_path / "site")
    repo = copy_project(tmp_path / "repo")
    params = yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))
    params["rft"]["backend"] = "echo"
    params["rft"]["echo"] = {"reply_set": "tuned"}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_", "VIRTUAL_ENV", "PYTHON"))}
    env.update({"PYTHONPATH": str(tmp_path / "site"), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"})
    out = subprocess.run([".venv/bin/dvc", "repro"], cwd=repo, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]

    job = json.loads((repo / "data/rft/job.json").read_text(encoding="utf-8"))
    assert (job["backend"], job["status"], job["model_id"]) == ("echo", "Completed", "echo-tuned")
    assert job["metrics"]["val_reward_final"] == 0.5
    assert json.loads((repo / "data/rft/deployment.json").read_text(encoding="utf-8"))["model"] == "echo-tuned"
    evaluation = json.loads((repo / "metrics/evaluate.json").read_text(encoding="utf-8"))
    assert evaluation["tuned_mean"] > evaluation["base_mean"]  # the canned tuned replies end in ござる
    preflight = json.loads((repo / "reports/preflight.json").read_text(encoding="utf-8"))
    assert preflight["backend"] == "echo"

    import mlflow

    client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name("rftlab")
    (run,) = client.search_runs([exp.experiment_id], "tags.`rftlab.kind` = 'rft-job'")
    assert run.data.tags["rftlab.backend"] == "echo" and run.data.tags["rftlab.job_id"] == job["job_id"]
