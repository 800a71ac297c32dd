"""Short-term Bedrock API keys for the OpenAI-compatible API, renewed before they expire.

A short-term Bedrock API key is valid for up to 12 hours or for the rest of the session that made it,
whichever is shorter, and only in the Region it was made for (user guide, "How Amazon Bedrock API keys
work": https://docs.aws.amazon.com/bedrock/latest/userguide/api-keys-how.html, and api-keys-reference.html). AWS's token generator
(`aws-bedrock-token-generator` on PyPI, what AWS's open-weight RFT notebooks use:
aws-samples/amazon-bedrock-samples custom-models/bedrock-reinforcement-fine-tuning/models/gpt-oss/
gptoss_gsm8k_rft.ipynb) makes one from the default AWS credentials: `provide_token(region=..., expiry=...)`,
a SigV4-presigned `CallWithBearerToken` request whose `X-Amz-Expires` is the lifetime (at most 43200 s).

A job is followed for hours, so one key made at start runs out: then every call gets HTTP 401, following
stops and the budget guard can no longer cancel a job that keeps billing. `TokenSource` asks for keys with
a lifetime of `lifetime_s` and makes a new one `refresh_before_s` before the current one ends (by a clock
the caller can replace); a key that ends sooner because the session behind it ended is replaced on the
first 401 (`Api` calls `renew()` and retries once).
"""

from __future__ import annotations

import base64
import threading
import time
import urllib.parse
from collections.abc import Callable
from datetime import timedelta

from rftlab.errors import ConfigError

MAX_LIFETIME_S = 43200  # the generator's and the user guide's 12 hours


def lifetime_of(token: str) -> int | None:
    """The `X-Amz-Expires` seconds inside a short-term key (`bedrock-api-key-` + base64 presigned URL), if any."""
    try:
        url = base64.b64decode(token.removeprefix("bedrock-api-key-"), validate=False).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    values = urllib.parse.parse_qs(urllib.parse.urlsplit("https://" + url).query).get("X-Amz-Expires")
    return int(values[0]) if values and values[0].isdigit() else None


def aws_generator(region: str) -> Callable[[int], str]:
    """AWS's token generator for `region`: seconds of lifetime -> a short-term Bedrock API key."""
    try:
        # the token generator loads only when no API key is configured
        from aws_bedrock_token_generator import provide_token
    except ImportError:
        raise ConfigError("no Bedrock API key: set rft.bedrock_open_weight.api_key_env to the variable holding one, "
                          "or install aws-bedrock-token-generator (pip install -e .) to make short-term keys") from None
    return lambda seconds: str(provide_token(region=region, expiry=timedelta(seconds=seconds)))


class TokenSource:
    """The current short-term key; a new one when the current one is within `refresh_before_s` of its end."""

    def __init__(self, generate: Callable[[int], str], *, lifetime_s: int = 3600, refresh_before_s: int = 600,
                 clock: Callable[[], float] = time.time):
        if not 0 < refresh_before_s < lifetime_s <= MAX_LIFETIME_S:
            raise ConfigError(f"token lifetime {lifetime_s} s / refresh {refresh_before_s} s before the end: "
                              f"need 0 < refresh < lifetime <= {MAX_LIFETIME_S}")
        self._generate, self._clock = generate, clock
        self.lifetime_s, self.refresh_before_s = lifetime_s, refresh_before_s
        self._token: str | None = None
        self._expires = 0.0
        self.issued = 0  # how many keys were made (tests and logs)
        self._lock = threading.Lock()

    def _new(self) -> None:
        now = self._clock()
        token = self._generate(self.lifetime_s)
        # the key's own X-Amz-Expires, when it says less than asked (never trust a longer one)
        self._expires = now + min(self.lifetime_s, lifetime_of(token) or self.lifetime_s)
        self._token = token
        self.issued += 1

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires - self.refresh_before_s:
                self._new()
            assert self._token is not None
            return self._token

    def renew(self) -> str:
        """A new key now (the current one was refused: its session ended before its lifetime)."""
        with self._lock:
            self._new()
            assert self._token is not None
            return self._token

    @property
    def expires_at(self) -> float:
        return self._expires
