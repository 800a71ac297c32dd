"""The fragment-salad guard, the ceiling, the hacking-ceiling metric, and old bundles left as they were."""

from __future__ import annotations

import random

import pytest
from grader_support import messages

from rftlab.grader.bundle import grader_from_obj, grader_version, make_bundle
from rftlab.grader.fluency import content_duplication, pos_model, with_floor
from rftlab.grader.gaming import fragment_salad
from rftlab.grader.handler import handle, to_payload
from rftlab.style.features import extract
from rftlab.style.profile import build_profile

ROWS = messages()
TARGET = [m["text"] for m in ROWS if m["user"] == "U01CTO"]


@pytest.fixture(scope="module")
def profile():
    return build_profile(ROWS, "U01CTO")


def test_real_text_is_fluent_and_its_shuffled_fragments_are_not(profile):
    model = pos_model(profile)
    real = [model.slor(extract(t, counts=False)["pos"]) / model.reference for t in TARGET[:30]]
    salads = fragment_salad(TARGET[:12], random.Random(0), n=6)
    salad = [model.slor(extract(t, counts=False)["pos"]) / model.reference for t in salads]
    assert min(real) > max(salad)
    grader = grader_from_obj(make_bundle(profile, {}))
    assert all(grader.score(t)[1]["disfluency"] > 0.5 for t in salads)
    assert sum(grader.score(t)[1]["disfluency"] > 0 for t in TARGET) <= len(TARGET) // 20


def test_the_same_content_words_over_and_over_count_as_disfluent(profile):
    grader = grader_from_obj(make_bundle(profile, {}))
    loop = "、".join(["デプロイの確認"] * 6) + "でござる。"
    assert content_duplication(extract(loop)) > 0.5 and grader.score(loop)[1]["disfluency"] == 1.0


def test_the_floor_is_the_targets_own_first_percentile(profile):
    floored = with_floor(profile, [extract(t) for t in TARGET])
    assert 0 < floored["fluency"]["floor"] <= 1.5 and "fluency" not in profile
    assert pos_model(floored).floor >= pos_model(profile).floor  # never more lenient than the fixed share


def test_the_ceiling_caps_every_score(profile):
    free = grader_from_obj(make_bundle(profile, {"scale": 1.0}))
    capped = grader_from_obj(make_bundle(profile, {"scale": 1.0, "ceiling": 0.0}))
    best = max(TARGET, key=lambda t: free.score(t)[0])
    assert free.score(best)[0] > 0.5 >= capped.score(best)[0]  # sigmoid(1.0 x (min(raw, 0) - 0)) <= 0.5


def test_a_bundle_made_before_the_guard_keeps_its_scores(profile):
    """A stored bundle without `disfluency` scores it at weight 0, like the code that made it."""
    mild = {"scale": 0.3}  # scores away from 0 and 1, so a guard's factor shows
    old = {k: v for k, v in make_bundle(profile, mild)["weights"].items() if k != "disfluency"}
    bundle = {"profile": profile, "weights": old, "version": grader_version(profile, old)}
    salad = fragment_salad(TARGET[:2], random.Random(1), n=1)[0]  # two messages long: no length guard
    before = grader_from_obj(bundle).score(salad)
    assert before[1]["disfluency"] > 0 and grader_from_obj(bundle).weights["disfluency"] == 0.0
    assert grader_from_obj(make_bundle(profile, mild)).score(salad)[0] < before[0]


def test_the_lambda_reports_replies_above_the_targets_p90(profile):
    grader = grader_from_obj(make_bundle(profile, {}, meta={"calibration": {"target_quantiles": {"p90": 0.5}}}))
    texts = [TARGET[0], "Thanks, will do."]
    out = handle([to_payload([{"role": "user", "content": "どう？"}], t, sample_id=str(i)) for i, t in enumerate(texts)],
                 grader)
    flags = [{m["name"]: m["value"] for m in r["metrics_list"]}["above_target_p90"] for r in out]
    scores = [r["aggregate_reward_score"] for r in out]
    assert flags == [float(s > 0.5) for s in scores] and flags[0] == 1.0 and flags[1] == 0.0
    plain = handle([to_payload([{"role": "user", "content": "x"}], TARGET[0], sample_id="a")],
                   grader_from_obj(make_bundle(profile, {})))
    assert "above_target_p90" not in {m["name"] for m in plain[0]["metrics_list"]}
