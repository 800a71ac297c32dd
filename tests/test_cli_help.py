"""Every command's --help reads cleanly at 80 columns: whole sentences re-wrapped, flags without a
`<bool>` placeholder, nothing cut, no reference to files users do not have."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from rftlab.cli import app


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [path]
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):  # a group (typer's own click classes)
            out += _commands(cmd, (*path, name))
        else:
            out.append((*path, name))
    return out


def test_every_help_fits_80_columns_without_placeholders_on_flags():
    root = typer.main.get_command(app)
    paths = _commands(root)
    assert ("rft",) in paths and ("job", "status") in paths and ("bedrock", "policies") in paths
    runner = CliRunner()
    for path in paths:
        res = runner.invoke(app, [*path, "--help"], terminal_width=80, env={"COLUMNS": "80"})
        assert res.exit_code == 0, (path, res.output)
        text = res.output
        assert "<bool>" not in text, path
        assert "DESIGN" not in text, path
        long = [line for line in text.splitlines() if len(line) > 80]
        assert not long, (path, long)
        assert text.startswith(f"Usage: rftlab {' '.join(path)}".rstrip()), (path, text[:60])


def test_a_docstring_paragraph_is_rewrapped_not_broken_where_the_source_broke_it():
    res = CliRunner().invoke(app, ["rft", "--help"], terminal_width=80, env={"COLUMNS": "80"})
    flat = " ".join(res.output.split())
    assert "rerunning after an interruption resumes (or reports) the same job" in flat
    lines = res.output.splitlines()
    assert not any(line.strip() == "interruption" for line in lines)
    assert any("--progress / --quiet" in line for line in lines)


@pytest.mark.parametrize("args", [["ingest", "missing.zip", "--out", "m.jsonl"],
                                  ["base-model", "--messages", "missing.jsonl", "--out", "base"]])
def test_a_missing_input_is_one_line_and_leaves_no_mlflow_run(args, tmp_path, monkeypatch):
    import mlflow

    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("tracking:\n  experiment: argument-checks\n", encoding="utf-8")
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2
    assert res.output.strip().count("\n") == 0 and "missing." in res.output and "not found" in res.output
    exp = mlflow.MlflowClient().get_experiment_by_name("argument-checks")
    assert exp is None or not mlflow.MlflowClient().search_runs([exp.experiment_id])
