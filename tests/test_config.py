"""params.yaml validation: every bad key fails before any work, naming its path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rftlab.cli import app
from rftlab.config import Params, load_params, parse_params
from rftlab.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_repo_params_file_is_valid_and_complete():
    params = load_params(ROOT / "params.yaml")
    on_disk = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    # Every section the code knows is spelled out in the file, so users see every knob.
    assert set(on_disk) == set(Params.model_fields)
    assert params.profile.author == "U01CTO"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"ingest": {"date_from": "2025-13-01"}}, 'ingest.date_from: expected a date, got "2025-13-01"'),
        ({"ingest": {"colour": "red"}}, "ingest.colour: unknown key"),
        ({"calibrate": {"trials": "many"}}, 'calibrate.trials: expected an integer, got "many"'),
        ({"calibrate": {"folds": 1}}, "calibrate.folds: input should be greater than or equal to 2, got 1"),
        ({"ingest": {"on_error": "ignore"}}, "ingest.on_error: input should be 'fail' or 'skip'"),
        ({"nonsense": {}}, "nonsense: unknown key"),
        ({"prompts": {"augment": {"templates": "x"}}}, "prompts.augment.templates: expected a list"),
    ],
)
def test_bad_values_name_the_key_path(data, expected):
    with pytest.raises(ConfigError) as exc:
        parse_params(data)
    assert expected in str(exc.value)


def test_bedrock_hyperparameters_use_botocore_ranges():
    with pytest.raises(ConfigError) as exc:
        parse_params({"rft": {"bedrock": {"hyperparameters": {"batchSize": 8, "trainingSamplePerPrompt": 17}}}})
    msg = str(exc.value)
    assert "rft.bedrock.hyperparameters.batchSize: 8 is outside the allowed range 16..512" in msg
    assert "rft.bedrock.hyperparameters.trainingSamplePerPrompt: 17 is outside the allowed range 2..16" in msg


def test_each_backend_has_its_own_hyperparameters():
    p = parse_params({})
    local, bedrock = p.rft.local.hyperparameters, p.rft.bedrock.hyperparameters
    # AWS's Nova sample (nova_gsm8k_rft.ipynb): batchSize 32, learningRate 5e-5, inferenceMaxTokens 750
    assert (bedrock.batchSize, bedrock.learningRate, bedrock.inferenceMaxTokens) == (32, 5e-5, 750)
    assert bedrock.evalInterval is None and bedrock.reasoningEffort is None  # not sent: Bedrock chooses
    assert local.learningRate == 1e-3 and local.inferenceMaxTokens == 32  # the tiny local model
    assert p.rft.hyperparameters is local
    assert parse_params({"rft": {"backend": "bedrock"}}).rft.hyperparameters.learningRate == 5e-5
    # the local model is not bound by Bedrock's API ranges (batchSize counts prompts on both)
    assert parse_params({"rft": {"local": {"hyperparameters": {"batchSize": 2}}}}).rft.local.hyperparameters.batchSize == 2


def test_shared_hyperparameters_section_is_refused_with_where_it_moved():
    with pytest.raises(ConfigError, match=r"rft.hyperparameters moved: .*rft.bedrock.hyperparameters and .*rft.local.hyperparameters"):
        parse_params({"rft": {"hyperparameters": {"learningRate": 1e-3}}})


def test_cross_field_rules():
    with pytest.raises(ConfigError, match="date_from .* is after date_to"):
        parse_params({"ingest": {"date_from": "2025-05-01", "date_to": "2025-01-01"}})


def test_all_errors_are_reported_at_once():
    with pytest.raises(ConfigError) as exc:
        parse_params({"ingest": {"min_chars": -1}, "check": {"min_auc": 2}})
    assert "ingest.min_chars" in str(exc.value) and "check.min_auc" in str(exc.value)


def test_invalid_yaml_names_the_line(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("ingest:\n  source: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"invalid YAML at line \d+"):
        load_params(bad)


def test_cli_reports_config_errors_in_one_line(tmp_path, monkeypatch):
    bad = tmp_path / "params.yaml"
    bad.write_text("rft:\n  bedrock:\n    hyperparameters:\n      learningRate: 0.5\n", encoding="utf-8")
    monkeypatch.setenv("RFTLAB_PARAMS", str(bad))
    result = CliRunner().invoke(app, ["rft"])
    assert result.exit_code != 0
    assert "rft.bedrock.hyperparameters.learningRate: 0.5 is outside the allowed range" in result.output
    assert "Traceback" not in result.output



@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"ingest": {"scrub_pii": "off"}}, 'ingest.scrub_pii: expected true or false, got "off"'),
        ({"ingest": {"min_chars": True}}, "ingest.min_chars: expected an integer, got true"),
        ({"ingest": {"drop_code_blocks": 1}}, "ingest.drop_code_blocks: expected true or false, got 1"),
        ({"calibrate": {"trials": "80"}}, 'calibrate.trials: expected an integer, got "80"'),
        ({"check": {"min_auc": "0.8"}}, 'check.min_auc: expected a number, got "0.8"'),
        ({"profile": {"author": 42}}, "profile.author: expected a string, got 42"),
    ],
)
def test_values_of_the_wrong_type_are_errors_not_coerced(data, expected):
    with pytest.raises(ConfigError) as exc:
        parse_params(data)
    assert expected in str(exc.value)


def test_dates_paths_and_yaml12_floats_still_load_from_yaml(tmp_path):
    p = tmp_path / "params.yaml"
    p.write_text('ingest:\n  source: exports/acme.zip\n  date_from: "2025-04-01"\n  date_to: 2025-06-30\n'
                 "rft:\n  bedrock:\n    build_context: build/x\n    hyperparameters:\n      learningRate: 5e-5\n"
                 "  prices:\n    training_tokens_per_hour: 2000000\n", encoding="utf-8")
    params = load_params(p)
    assert params.ingest.source == Path("exports/acme.zip") and params.ingest.date_from.isoformat() == "2025-04-01"
    assert params.ingest.date_to.isoformat() == "2025-06-30" and params.rft.bedrock.build_context == Path("build/x")
    assert params.rft.bedrock.hyperparameters.learningRate == 5e-5  # PyYAML alone reads `5e-5` as a string


def test_a_duplicate_key_names_the_key_and_both_lines(tmp_path):
    p = tmp_path / "params.yaml"
    p.write_text("ingest:\n  min_chars: 2\n  scrub_pii: true\n  min_chars: 5\nprofile:\n  author: U1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_params(p)
    assert str(exc.value) == f"{p.resolve()}: duplicate key ingest.min_chars at line 4 (first at line 2)"
    p.write_text("ingest:\n  channels: [a]\nprofile:\n  author: U1\ningest:\n  users: [U1]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"duplicate key ingest at line 5 \(first at line 1\)"):
        load_params(p)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('ingest:\n  scrub_pii: "off"\n', 'ingest.scrub_pii: expected true or false, got "off"'),
        ("ingest:\n  min_chars: true\n", "ingest.min_chars: expected an integer, got true"),
        ("ingest:\n  min_chars: 2\n  min_chars: 3\n", "duplicate key ingest.min_chars at line 3 (first at line 2)"),
    ],
)
def test_cli_refuses_strict_and_duplicate_errors_in_one_line(tmp_path, monkeypatch, text, expected):
    bad = tmp_path / "params.yaml"
    bad.write_text(text, encoding="utf-8")
    monkeypatch.setenv("RFTLAB_PARAMS", str(bad))
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "export.zip"), "--out", str(tmp_path / "m.jsonl"),
                                      "--no-track"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "m.jsonl").exists()


@pytest.mark.parametrize("data", [{"rft": {"backend": "openai"}}, {"rft": {"openai": {"region": "us-west-2"}}}])
def test_the_old_open_weight_backend_name_is_refused_naming_the_new_one(data):
    with pytest.raises(ConfigError) as err:
        parse_params(data)
    msg = str(err.value)
    assert "'openai' was renamed 'bedrock_open_weight'" in msg and "rft.bedrock_open_weight" in msg
    assert "\n" not in msg


def test_an_unknown_backend_is_refused_naming_the_registered_ones():
    with pytest.raises(ConfigError, match=r"rft.backend: unknown backend 'tpu' \(registered: bedrock, "
                                          r"bedrock_open_weight, local"):
        parse_params({"rft": {"backend": "tpu"}})


def test_each_backend_validates_its_own_section_with_the_key_path():
    with pytest.raises(ConfigError, match=r"rft\.bedrock\.lambda_timeout_s: input should be less than or equal to 900"):
        parse_params({"rft": {"bedrock": {"lambda_timeout_s": 5000}}})
    with pytest.raises(ConfigError, match=r"rft\.local\.lora\.r: "):
        parse_params({"rft": {"local": {"lora": {"r": 0}}}})
