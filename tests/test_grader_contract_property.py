"""The grader contract under arbitrary JSON (hypothesis): never raises, one result per sample,
input order, ids echoed (missing ones synthesized, unique, equal to no real id), every score
a finite float in [0, 1], a plain-JSON response.

The expected sample count and ids are worked out here from the documented rules (docs/grader.md,
"Lambda contract"), not from the handler's helpers. RFTLAB_CONTRACT_EXAMPLES raises the number
of generated cases (e.g. 20000 for a long fuzz run).
"""

from __future__ import annotations

import json
import math
import os
import sys

import pytest
from grader_support import heldout, messages
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rftlab.grader.bundle import grader_from_obj, make_bundle
from rftlab.grader.handler import MISSING_ID_PREFIX, handle
from rftlab.style.profile import build_profile

EXAMPLES = int(os.environ.get("RFTLAB_CONTRACT_EXAMPLES", "150"))


def huge_int(sign: int) -> int:
    """An integer past Python's int-to-str limit (4300 digits): str() and repr() of it raise
    (built by a function so that hypothesis never has to print it in a strategy's repr)."""
    return sign * 10**5000


huge_ints = st.builds(huge_int, st.sampled_from([1, -1]))


@pytest.fixture(scope="module")
def grader():
    return grader_from_obj(make_bundle(build_profile(messages(), "U01CTO"), {}))


scalars = (st.none() | st.booleans() | st.integers() | huge_ints | st.sampled_from([2**63, -(2**64)])
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40))
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
TEXTS = [*heldout()[0][:3], *heldout()[1][:3], "", "拙者\ud800が確認\x00するでござる。"]
texts = st.sampled_from(TEXTS) | st.text(max_size=60)
roles = st.sampled_from(["user", "assistant", "nova_assistant", "system"]) | json_values
contents = texts | st.lists(st.fixed_dictionaries({"text": texts}), max_size=3) | json_values
message = st.fixed_dictionaries({}, optional={"role": roles, "content": contents}) | json_values
# ids that collide: small pools, numbers whose text equals a string id, synthesized-looking ids
ids = (st.sampled_from(["0", "1", "a", "", f"{MISSING_ID_PREFIX}0", f"{MISSING_ID_PREFIX}1", f"{MISSING_ID_PREFIX}0-1"])
       | st.integers(-2, 3) | huge_ints | st.sampled_from([1.5, math.nan, math.inf]) | json_values)
sample = st.fixed_dictionaries({}, optional={
    "id": ids,
    "messages": st.lists(message, max_size=4) | json_values,
    "metadata": st.fixed_dictionaries({}, optional={"reference_answer": json_values | texts}) | json_values,
    "reference_answer": json_values,
    # batch-looking keys inside a bare sample must not be unwrapped
    "data": st.lists(json_values, max_size=3), "samples": st.lists(json_values, max_size=3),
    "trajectories": st.lists(json_values, max_size=3),
})
batches = st.lists(sample | json_values, max_size=6)


def expected_id(s):
    """The documented rule: a string id as is, a finite number as its text, else none."""
    sid = s.get("id") if isinstance(s, dict) else None
    if isinstance(sid, str):
        return sid
    if isinstance(sid, int) and not isinstance(sid, bool):
        return str(sid) if abs(sid) < 10 ** sys.get_int_max_str_digits() else None
    if isinstance(sid, float) and math.isfinite(sid):
        return repr(sid)
    return None


def expected_samples(payload):
    """The documented reading of a payload: list; bare sample; trajectories/samples wrapper; none."""
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return []
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        if "messages" in payload:
            return [payload]
        for key in ("trajectories", "samples"):
            if isinstance(payload.get(key), list):
                return payload[key]
        if "id" in payload:
            return [payload]
    return []


def check_contract(resp, samples):
    assert isinstance(resp, list) and len(resp) == len(samples)
    real = {expected_id(s) for s in samples} - {None}
    synthesized = []
    for s, r in zip(samples, resp, strict=True):
        assert set(r) == {"id", "aggregate_reward_score", "metrics_list"}
        own = expected_id(s)
        if own is not None:
            assert r["id"] == own  # echoed, in input order
        else:
            assert isinstance(r["id"], str) and r["id"] not in real
            synthesized.append(r["id"])
        score = r["aggregate_reward_score"]
        assert type(score) is float and math.isfinite(score) and 0.0 <= score <= 1.0
        assert isinstance(r["metrics_list"], list) and r["metrics_list"]
        for m in r["metrics_list"]:
            assert set(m) == {"name", "value", "type"} and m["type"] in ("Reward", "Metric")
            assert isinstance(m["name"], str) and type(m["value"]) is float and math.isfinite(m["value"])
    assert len(set(synthesized)) == len(synthesized)
    json.dumps(resp, allow_nan=False)


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batches)
def test_any_batch_gets_one_well_formed_result_per_sample_in_order(grader, batch):
    check_contract(handle(batch, grader), batch)


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(sample | json_values | st.fixed_dictionaries({"trajectories": batches}) | st.fixed_dictionaries({"samples": batches}))
def test_any_top_level_payload_is_read_by_the_documented_rule(grader, payload):
    check_contract(handle(payload, grader), expected_samples(payload))
