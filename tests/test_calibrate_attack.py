"""The gate's red team on the sample export (built here): with the relevance component, nothing the
seeded search finds reaches the target's median real score, and the constant and fixed-message
replies stay below it; the style score alone does not hold, and the gate says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from rftlab.calibrate.attack import gate_attack, red_team
from rftlab.config import load_params
from rftlab.grader.bundle import grader_from_obj, make_bundle, write_bundle
from rftlab.grader.fluency import with_floor
from rftlab.io import iter_jsonl, read_messages, write_jsonl
from rftlab.style.features import extract

ROOT = Path(__file__).resolve().parents[1]
BUDGET = 150  # grader calls per seed (the measurement: 6,000 x 3 seeds, benchmarks/bench_redteam.py)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from rftlab.prompts.build import build_prompt_set
    from rftlab.slack import ingest_stage, sample_stage
    from rftlab.style.profile import build_profile

    params = load_params(ROOT / "params.yaml")
    d = tmp_path_factory.mktemp("attack")
    sample_stage.run(d / "export.zip", params.sample)
    ingest_stage.run(d / "export.zip", d / "messages.jsonl", params=params.ingest, track=False)
    messages = read_messages(d / "messages.jsonl")
    out = build_prompt_set(messages, params.profile.author, params.prompts,
                           max_prompt_length=params.prompts.max_prompt_tokens)
    write_jsonl(d / "train.jsonl", out.train)
    author = params.profile.author
    profile = build_profile(messages, author)
    profile = with_floor(profile, [extract(m["text"]) for m in messages if m["user"] == author])
    weights = scaled_weights(profile, messages, author)
    for name, relevance in (("with_relevance.json", {"judge": "proxy", "weight": 0.5}), ("style_only.json", None)):
        write_bundle(d / name, make_bundle(profile, weights, relevance=relevance))
    genuine = [m["text"] for m in messages if m["user"] == author]
    rows = list(iter_jsonl(d / "train.jsonl"))
    return d, genuine, [r["reference_answer"] for r in rows], [r["messages"][-1]["content"] for r in rows]


def scaled_weights(profile: dict, messages: list[dict], author: str) -> dict:
    """Default weights with scale, bias and ceiling set the way calibration sets them (objective.with_scale):
    the target's median at 0.8, the background's at 0.2, the cap at the target's 99th percentile."""
    import math

    import numpy as np

    from rftlab.grader.scoring import DEFAULT_WEIGHTS, FAMILIES, components

    def raw(text: str) -> float:
        c = components(extract(text, counts=False), profile)
        return sum(DEFAULT_WEIGHTS[f] * c.get(f, 0.0) for f in FAMILIES)

    t = [raw(m["text"]) for m in messages if m["user"] == author][:400]
    b = [raw(m["text"]) for m in messages if m["user"] != author][:400]
    mt, mb = float(np.median(t)), float(np.median(b))
    return {"bias": (mt + mb) / 2, "scale": math.log(4.0) / ((mt - mb) / 2), "ceiling": float(np.quantile(t, 0.99))}


def attack(sample, bundle: str):
    d, genuine, refs, prompts = sample
    from rftlab.grader.bundle import load_grader

    return gate_attack(load_grader(d / bundle), refs, prompts, genuine, budget=BUDGET, seeds=[0], panel=4,
                       eval_prompts=32)


def test_with_relevance_nothing_reaches_the_median(sample):
    report, real = attack(sample, "with_relevance.json")
    assert report.bar == pytest.approx(sorted(real)[len(real) // 2], abs=0.02)
    for kind in ("constant", "fixed_message", "splice", "hill_climb"):
        assert report.best(kind).score < report.bar, kind
    assert report.calls >= BUDGET  # the climb spent its budget


def test_style_alone_pays_a_fixed_real_message_for_every_prompt(sample):
    report, _ = attack(sample, "style_only.json")
    assert report.best("fixed_message").score >= report.bar


def test_red_team_is_seeded(sample):
    d, genuine, _, prompts = sample
    from rftlab.grader.bundle import load_grader

    grader = load_grader(d / "with_relevance.json")
    a = red_team(grader, genuine[:200], prompts, 0.8, budget=40, seeds=[3], eval_prompts=8)
    b = red_team(grader, genuine[:200], prompts, 0.8, budget=40, seeds=[3], eval_prompts=8)
    assert [(x.kind, x.text, x.score) for x in a.attacks] == [(x.kind, x.text, x.score) for x in b.attacks]


def test_the_gate_fails_a_style_only_grader_on_the_attack(sample, tmp_path):
    from rftlab.calibrate import check_stage
    from rftlab.config import CheckParams
    from rftlab.errors import GateFailed

    d, *_ = sample
    cfg = CheckParams.model_validate({"attack": {"budget": 40, "seeds": [0], "panel": 4, "eval_prompts": 16,
                                                 "max_quantile": 0.5}})
    ok = check_stage.run(d / "with_relevance.json", d / "messages.jsonl", cfg=cfg, prompts_path=d / "train.jsonl",
                         track=False, plots_dir=tmp_path / "ok")
    assert ok["checks"]["attack_max_quantile"]["passed"] and (tmp_path / "ok" / "attacks.json").exists()
    with pytest.raises(GateFailed, match=r"attack_max_quantile [01]\.\d+ >= threshold 0\.5"):
        check_stage.run(d / "style_only.json", d / "messages.jsonl", cfg=cfg, prompts_path=d / "train.jsonl",
                        track=False)


def test_the_salad_the_search_converges_to_is_guarded(sample):
    """The issue's measured hack scores nothing once the fluency guard reads its part-of-speech salad."""
    d, *_ = sample
    grader = grader_from_obj(make_bundle(grader_from_obj(
        __import__("json").loads((d / "style_only.json").read_text())).profile, {}))
    salad = "結論と、でござらござら択でござる。上でござる。もでござる。結論と、でござらござら択でござる。"
    score, comps = grader.score(salad)
    assert comps["disfluency"] == 1.0 and score < 0.05
    real, real_comps = grader.score("結論から言うと、Lambdaのログを先に確認するのが良いでござる。")
    assert real_comps["disfluency"] == 0.0 and real > score
