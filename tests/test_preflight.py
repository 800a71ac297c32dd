"""`rftlab preflight`: rollouts scored through the grader's Lambda path before any job; a grader that
cannot spread a prompt's rollouts (all weights zero, or its sigmoid scale at 0) fails with one line."""

from __future__ import annotations

import json
import random
import re

import pytest
from local_support import build_project, messages
from typer.testing import CliRunner

from rftlab.config import load_params
from rftlab.errors import GateFailed
from rftlab.generation import Completion
from rftlab.grader.bundle import load_grader, make_bundle, write_bundle
from rftlab.grader.scoring import DEFAULT_WEIGHTS
from rftlab.preflight import preflight_stage
from rftlab.preflight.figures import Rollout, figures

TARGET = [m["text"] for m in messages() if m["user"] == "T"]
OTHERS = [m["text"] for m in messages() if m["user"] != "T"]


class MixedGenerator:
    """Half the target's own messages, half other people's: rollouts a working grader tells apart."""

    name = "mixed"

    def __init__(self) -> None:
        self.calls = 0

    def generate(self, prompts, *, n, temperature, max_tokens, seed):
        self.calls += 1
        rng = random.Random(seed)
        return [[Completion(rng.choice(TARGET if k % 2 else OTHERS), 10, 8) for k in range(n)] for _ in prompts]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    d = build_project(tmp_path_factory.mktemp("preflight"))
    profile = load_grader(d / "grader.json").profile
    write_bundle(d / "zero.json", make_bundle(profile, {k: 0.0 for k in DEFAULT_WEIGHTS}))
    write_bundle(d / "scale0.json", make_bundle(profile, {"scale": 0.0}))
    return d


def run(project, grader: str, tmp_path, **kw):
    params = load_params(project / "params.yaml")
    return preflight_stage.run(params, train=str(project / "train.jsonl"), grader_path=str(project / grader),
                         metrics_path=str(tmp_path / "preflight.json"), plots_dir=str(tmp_path / "plots"),
                         track=False, **kw)


def test_a_working_grader_passes_and_writes_its_figures(project, tmp_path):
    m = run(project, "grader.json", tmp_path, generator=MixedGenerator())
    assert m["passed"] and m["flat_share"] < 0.5 and m["mean_std"] > 0.02
    assert 0.0 < m["done_share"] < 0.9  # the target's own messages reach his median, the others do not
    assert m["rollouts"] == m["prompts"] * 4 and m["steps_with_signal"] == pytest.approx(4.0)
    written = json.loads((tmp_path / "preflight.json").read_text())
    assert written["spec_hash"] == m["spec_hash"] and "histogram" not in written
    rows = json.loads((tmp_path / "plots" / "scores.json").read_text())
    assert sum(r["rollouts"] for r in rows) == m["rollouts"] and (tmp_path / "plots" / "preflight.png").exists()


@pytest.mark.parametrize("grader", ["zero.json", "scale0.json"])
def test_a_flattened_grader_fails_naming_the_figure_and_the_fix(project, tmp_path, grader):
    with pytest.raises(GateFailed) as err:
        run(project, grader, tmp_path, generator=MixedGenerator())
    first = str(err.value).splitlines()[0]
    # a zero-weight grader ties everything; at scale 0 only the guards still tell texts apart
    assert re.match(r"preflight failed: flat_share (1\.0000|0\.\d{4}) >= threshold 0\.5: raise the sampling temperature",
                    first), first
    assert json.loads((tmp_path / "preflight.json").read_text())["passed"] is False  # figures kept for DVC


def test_cli_fails_on_a_base_model_whose_rollouts_all_tie(project, tmp_path, monkeypatch):
    """The test project's 1-epoch model writes byte noise: every rollout scores 0, nothing to learn."""
    from rftlab.cli import app

    monkeypatch.chdir(project)
    result = CliRunner().invoke(app, ["preflight", "--train", "train.jsonl", "--grader", "grader.json",
                                      "--metrics", str(tmp_path / "m.json"), "--prompts", "4"])
    assert result.exit_code == 1
    assert "error: preflight failed: flat_share 1.0000 >= threshold 0.5" in result.output
    assert "Traceback" not in result.output


def test_with_enforce_off_a_failure_is_reported_and_the_stage_goes_on(project, tmp_path):
    """A smoke run on a tiny model (the rehearsal, the team tests) records the figures without stopping."""
    params = load_params(project / "params.yaml")
    params = params.model_copy(update={"preflight": params.preflight.model_copy(update={"enforce": False})})
    m = preflight_stage.run(params, train=str(project / "train.jsonl"), grader_path=str(project / "zero.json"),
                      metrics_path=str(tmp_path / "preflight.json"), track=False, generator=MixedGenerator())
    assert m["passed"] is False and m["flat_share"] == 1.0
    assert json.loads((tmp_path / "preflight.json").read_text())["passed"] is False


def test_bedrock_rollouts_above_the_cost_cap_are_refused_before_any_call(project, tmp_path):
    from rftlab.jobs.cost import BudgetExceeded

    params = load_params(project / "params.yaml")
    rft = params.rft.model_copy(update={"backend": "bedrock", "base_model": None})
    params = params.model_copy(update={"rft": rft, "preflight": params.preflight.model_copy(update={"max_usd": 0.0001})})
    gen = MixedGenerator()
    with pytest.raises(BudgetExceeded, match="preflight.max_usd"):
        preflight_stage.run(params, train=str(project / "train.jsonl"), grader_path=str(project / "grader.json"),
                      generator=gen, track=False)
    assert gen.calls == 0


def test_steps_with_signal_follow_the_flat_share():
    groups = [[Rollout("a", "p", "x", r, r) for r in (0.2, 0.8)], [Rollout("b", "p", "y", 0.5, 0.5)] * 2]
    f = figures(groups, flat_std=0.01, median=0.6, p90=0.7, prompts_per_step=2, steps=10)
    assert f["flat_share"] == 0.5 and f["steps_with_signal"] == pytest.approx(10 * (1 - 0.5 ** 2))
    assert f["done_share"] == 0.25 and f["above_p90_share"] == 0.25
