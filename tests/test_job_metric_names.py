"""A local job's step metrics: the contract's names for what the charts show, TRL's other keys under
trl/, and nothing that is zero by construction."""

from __future__ import annotations

from rftlab.backends.local.callback import metric_names


def test_trl_keys_map_to_stable_names_or_the_trl_prefix_and_clip_ratios_are_dropped():
    logs = {"reward": 0.5, "reward_std": 0.1, "kl": 0.01, "entropy": 2.0, "epoch": 0.3, "grad_norm": 1.5,
            "loss": 0.02, "num_tokens": 4096.0, "completions/max_length": 32.0, "clip_ratio/low_mean": 0.0,
            "clip_ratio/region_mean": 0.0, "rewards/GraderReward/mean": 0.5, "train_runtime": 12.0}
    out = metric_names(logs, {"ending": 0.7})
    assert out == {"train/reward_mean": 0.5, "train/reward_std": 0.1, "train/kl": 0.01, "train/entropy": 2.0,
                   "train/epoch": 0.3, "trl/grad_norm": 1.5, "trl/loss": 0.02, "trl/num_tokens": 4096.0,
                   "trl/completions/max_length": 32.0, "train/rewards/ending/mean": 0.7}
