"""Run artifacts redacted: the git diff artifact and logged params/dicts/texts carry no secret."""

from __future__ import annotations

import subprocess
from pathlib import Path

import mlflow
import pytest
import yaml
from grader_support import messages
from typer.testing import CliRunner

from rftlab import contracts, tracking
from rftlab.cli import app
from rftlab.io import write_jsonl
from rftlab.privacy.redact import redact_obj, redact_text

runner = CliRunner()
PASSWORD = "hunter22secret"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    "text, secret",
    [
        ("  storage: postgresql://optuna:hunter22secret@db.example/optuna", PASSWORD),
        ("password: hunter22secret", PASSWORD),
        (f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", AWS_SECRET),
        (f"+  aws_secret_access_key = {AWS_SECRET}", AWS_SECRET),
        ("url: https://x.example/cb?access_token=hunter22secret&x=1", PASSWORD),
        ("slack: xoxb-123456789012-abcdefghijkl", "xoxb-123456789012-abcdefghijkl"),
    ],
)
def test_redact_text_replaces_the_secret_and_keeps_the_rest(text: str, secret: str) -> None:
    out = redact_text(text)
    assert secret not in out and "***" in out
    assert text.startswith(out.split("***")[0])  # everything before the mask is kept as it was


def test_redaction_leaves_config_and_personal_looking_data_it_does_not_own() -> None:
    text = "author: U01CTO\nmax_prompt_tokens: 256\nemail in a docstring: taro@example.com"
    assert redact_text(text) == text  # e-mail is scrubbed from messages, not from code diffs


def test_redact_obj_masks_values_under_secret_keys() -> None:
    got = redact_obj({"db": {"password": "x", "host": "h"}, "api_key": "k", "max_tokens": 5,
                      "urls": ["postgresql://u:pw12345@h/db"]})
    assert got == {"db": {"password": "***", "host": "h"}, "api_key": "***", "max_tokens": 5,
                   "urls": ["postgresql://***@h/db"]}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=repo,
                   check=True, capture_output=True)


def test_profile_run_logs_a_redacted_diff_of_a_dirty_params_file(tmp_path, monkeypatch) -> None:
    repo = tmp_path / "proj"
    repo.mkdir()
    params = {"tracking": {"experiment": "test-redact"}, "calibrate": {"storage": None}}
    (repo / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    _git(repo, "init", "-q")
    _git(repo, "add", "params.yaml")
    _git(repo, "commit", "-q", "-m", "init")
    params["calibrate"]["storage"] = f"postgresql://optuna:{PASSWORD}@db.example/optuna"
    (repo / "params.yaml").write_text(yaml.safe_dump(params) + f"# AWS_SECRET_ACCESS_KEY={AWS_SECRET}\n",
                                      encoding="utf-8")
    monkeypatch.chdir(repo)
    monkeypatch.setenv("RFTLAB_PARAMS", str(repo / "params.yaml"))
    write_jsonl(repo / "messages.jsonl", messages())
    res = runner.invoke(app, ["profile", "--messages", "messages.jsonl", "--author", "U01CTO", "--out", "p.json"])
    assert res.exit_code == 0, res.output
    run = tracking.find_runs(contracts.KIND, "profile", experiment="test-redact")[0]
    assert run.data.tags["rftlab.git_dirty"] == "true"
    diff = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/git/diff.patch")
    assert "postgresql://***@db.example/optuna" in diff and "AWS_SECRET_ACCESS_KEY=***" in diff
    assert PASSWORD not in diff and AWS_SECRET not in diff


def test_logged_params_dicts_and_texts_are_redacted() -> None:
    url = f"postgresql://optuna:{PASSWORD}@db.example/optuna"
    with tracking.stage_run("profile", params={"calibrate": {"storage": url}, "bedrock": {"api_key": "k1"}},
                            experiment="test-redact") as run:
        tracking.log_dict({"storage": url, "token": "abc"}, "config.json")
        tracking.log_text(f"connecting to {url}\n", "log.txt")
        tracking.set_tags({"note": url})
    got = mlflow.get_run(run.info.run_id)
    assert got.data.params["calibrate.storage"] == "postgresql://***@db.example/optuna"
    assert got.data.params["bedrock.api_key"] == "***"
    assert got.data.tags["note"] == "postgresql://***@db.example/optuna"
    stored = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/config.json")
    assert stored == {"storage": "postgresql://***@db.example/optuna", "token": "***"}
    assert PASSWORD not in mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/log.txt")
