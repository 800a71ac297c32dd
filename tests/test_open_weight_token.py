"""Short-term Bedrock API keys are renewed before they expire: a job followed across a simulated expiry never
shows the user a 401.

A short-term key is valid for up to 12 hours or the session that made it, whichever is shorter (user guide,
api-keys-how.html). The API stand-in accepts a key only while the controlled clock is before the end of the
lifetime it was made with, or until it is revoked (its session ended).
"""

from __future__ import annotations

import time

import pytest
from open_weight_support import prompt_rows, write_jsonl

from rftlab.backends.bedrock.open_weight.api import Api
from rftlab.backends.bedrock.open_weight.params import OpenWeightBackendParams
from rftlab.backends.bedrock.open_weight.token import TokenSource, lifetime_of

ARN = "arn:aws:lambda:us-west-2:123456789012:function:rftlab-grader:1"


class Keys:
    """Makes numbered keys on a controlled clock; says which are still valid."""

    def __init__(self):
        self.now = 0.0
        self.ends: dict[str, float] = {}
        self.revoked: set[str] = set()
        self.refused = 0  # 401s answered

    def generate(self, seconds: int) -> str:
        key = f"key-{len(self.ends)}"
        self.ends[key] = self.now + seconds
        return key

    def accept(self, key: str) -> bool:
        ok = key in self.ends and key not in self.revoked and self.now < self.ends[key]
        self.refused += not ok
        return ok


@pytest.fixture
def api_and_keys(tmp_path):
    from rftlab.backends.bedrock.rehearsal.openai_api import OpenAIStandIn
    from rftlab.backends.bedrock.rehearsal.openai_jobs import Options

    keys = Keys()
    grade = lambda payload: [{"id": s["id"], "aggregate_reward_score": 0.5, "metrics_list": []} for s in payload]  # noqa: E731
    opts = Options(accept=keys.accept, stage_seconds=0.05, step_seconds=0.05, max_steps=8)
    with OpenAIStandIn(lambda arn: grade, opts) as standin:
        tokens = TokenSource(keys.generate, lifetime_s=3600, refresh_before_s=600, clock=lambda: keys.now)
        api = Api(OpenWeightBackendParams(), endpoint=standin.url, tokens=tokens)
        write_jsonl(tmp_path / "train.jsonl", prompt_rows(100))
        yield api, keys, tokens, tmp_path / "train.jsonl"


def _follow(api, keys, job_id, minutes_per_poll: float, min_polls: int = 8) -> tuple[dict, int]:
    """Poll as `follow` does, the clock moving `minutes_per_poll` each time, until the job ended and min_polls."""
    polls = 0
    while True:
        keys.now += minutes_per_poll * 60
        job = api.retrieve(job_id)
        api.events(job_id)
        polls += 1
        if polls >= min_polls and job["status"] in ("succeeded", "failed", "cancelled"):
            return job, polls
        time.sleep(0.05)


def test_a_job_followed_for_hours_of_clock_renews_its_key_before_expiry(api_and_keys):
    api, keys, tokens, train = api_and_keys
    job = api.create_job("openai.gpt-oss-20b", api.upload(train, "t.jsonl"), {
        "type": "reinforcement", "reinforcement": {"grader": {"type": "lambda", "lambda": {"function": ARN}},
                                                   "hyperparameters": {"n_epochs": 1}}})
    done, polls = _follow(api, keys, job["id"], minutes_per_poll=40)  # each poll: 40 simulated minutes
    assert done["status"] == "succeeded", done.get("error")
    assert keys.now >= 5 * 3600  # the simulated clock went past five key lifetimes
    assert tokens.issued >= 5 and keys.refused == 0  # renewed before each expiry: the API never answered 401
    assert any(j["id"] == job["id"] for j in api.jobs())


def test_a_key_whose_session_ended_early_is_replaced_on_the_first_401(api_and_keys):
    api, keys, tokens, train = api_and_keys
    file_id = api.upload(train, "t.jsonl")
    keys.revoked.add(tokens())  # the session behind the current key ended
    assert api.find_file("t.jsonl") == file_id  # one 401 inside, a new key, the retry succeeds
    assert tokens.issued == 2 and keys.refused == 1


def test_a_fixed_key_is_read_only_from_the_variable_params_names(monkeypatch):
    from rftlab.backends.bedrock.open_weight.api import base_url, key_source
    from rftlab.errors import ConfigError

    monkeypatch.setenv("OPENAI_API_KEY", "sk-unrelated")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://example.invalid/v1")
    settings = OpenWeightBackendParams(api_key_env="MY_BEDROCK_KEY")
    assert base_url(settings) == "https://bedrock-mantle.us-west-2.api.aws/v1"
    with pytest.raises(ConfigError, match="MY_BEDROCK_KEY is not set"):
        key_source(settings)
    monkeypatch.setenv("MY_BEDROCK_KEY", "bedrock-key")
    assert key_source(settings) == ("bedrock-key", None)


def test_the_lifetime_is_read_from_a_key_made_by_aws_token_generator():
    from aws_bedrock_token_generator import BedrockTokenGenerator
    from botocore.credentials import Credentials

    token = BedrockTokenGenerator().get_token(Credentials("AKIDEXAMPLE", "secret"), "us-west-2")
    assert token.startswith("bedrock-api-key-") and lifetime_of(token) == 43200
    assert lifetime_of("not-a-key") is None


def test_refresh_settings_are_checked():
    from rftlab.errors import ConfigError

    with pytest.raises(ConfigError):
        TokenSource(lambda s: "k", lifetime_s=600, refresh_before_s=600)
