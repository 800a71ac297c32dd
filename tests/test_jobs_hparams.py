"""Bedrock hyperparameters: ranges enforced before training, one mapping to TRL's GRPOConfig."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from rftlab.backends.bedrock.hyperparams import bedrock_ranges
from rftlab.backends.local.mapping import LOCAL_MEANING, grpo_settings, prompt_limit
from rftlab.cli import app


def test_every_bedrock_name_has_a_documented_local_meaning():
    assert set(bedrock_ranges()) == set(LOCAL_MEANING)
    assert "no local meaning" in LOCAL_MEANING["reasoningEffort"]


@pytest.mark.parametrize(("hp", "per_device", "accum"), [
    ({"batchSize": 4, "trainingSamplePerPrompt": 4}, 8, 2),
    ({"batchSize": 4, "trainingSamplePerPrompt": 8}, 8, 4),
    ({"batchSize": 1, "trainingSamplePerPrompt": 16}, 16, 1),
    ({"batchSize": 4, "trainingSamplePerPrompt": 6}, 6, 4),
])
def test_batch_size_counts_prompts_like_bedrock(hp, per_device, accum):
    """batchSize is prompts per step on Bedrock (AWS's Nova sample: 6k samples / batch 32 = ~188 steps per
    epoch); locally each prompt brings trainingSamplePerPrompt completions to the same optimizer step."""
    s = grpo_settings(hp, per_device_max=8)
    assert (s["per_device_train_batch_size"], s["gradient_accumulation_steps"]) == (per_device, accum)
    assert s["per_device_train_batch_size"] % s["num_generations"] == 0
    completions = hp["batchSize"] * hp["trainingSamplePerPrompt"]
    assert s["generation_batch_size"] == per_device * accum == completions
    assert s["generation_batch_size"] // s["num_generations"] == hp["batchSize"]


def test_names_map_to_grpo_settings():
    hp = {"epochCount": 3, "batchSize": 3, "learningRate": 2e-4, "trainingSamplePerPrompt": 8,
          "inferenceMaxTokens": 48, "maxPromptLength": 100, "evalInterval": 7, "reasoningEffort": "high"}
    s = grpo_settings(hp, seed=5, beta=0.1, max_steps=12)
    assert s["num_generations"] == 8 and s["max_completion_length"] == 48 and s["learning_rate"] == 2e-4
    assert s["num_train_epochs"] == 3 and s["max_steps"] == 12 and s["save_steps"] == 7
    assert s["beta"] == 0.1 and s["seed"] == s["data_seed"] == 5 and s["use_cpu"]
    assert s["generation_batch_size"] == 24  # 3 prompts x 8 samples
    assert prompt_limit(hp) == 100
    assert "reasoningEffort" not in str(s)


@pytest.mark.parametrize(("key", "value", "allowed"), [
    ("batchSize", 8, "16..512"),
    ("learningRate", 0.01, "1e-07..0.001"),
    ("trainingSamplePerPrompt", 32, "2..16"),
    ("epochCount", 0, "1..50"),
])
def test_out_of_range_rejected_by_cli_before_training(tmp_path, monkeypatch, key, value, allowed):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"rft": {"bedrock": {"hyperparameters": {key: value}}}}), encoding="utf-8")
    monkeypatch.setenv("RFTLAB_PARAMS", str(params))
    monkeypatch.setenv("RFTLAB_JOBS_DIR", str(tmp_path / "jobs"))
    result = CliRunner().invoke(app, ["rft", "--train", str(tmp_path / "missing.jsonl"), "--quiet"])
    assert result.exit_code == 2, result.output
    out = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert f"rft.bedrock.hyperparameters.{key}" in out and allowed in out and "Traceback" not in out
    assert not (tmp_path / "jobs").exists()
