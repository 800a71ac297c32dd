"""Evaluation on both axes: relevance beside style for base and tuned, and tuned outputs that beat the
target's own replies by repeating the prompt or his favourite phrases flagged in the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rftlab.evaluate import axes
from rftlab.evaluate.report import render
from rftlab.evaluate.scoring import side_by_side

PROMPTS = ["Lambdaのデプロイが失敗する件、どうすればいい？", "S3のコストが急に増えた"]


class Grader:
    """Style = share of ござる characters (x3); the profile's favourite words are 結論 and ござる."""

    profile = {"favorite_words": ["名詞:結論"], "favorite_endings": ["ござる"]}
    relevance = None

    def score(self, text, *, prompt=None, reference=None):
        return min(1.0, 3 * sum(ch in "ござる" for ch in text) / max(1, len(text))), {}


def sample(text: str) -> dict:
    return {"text": text, "score": Grader().score(text)[0], "components": {}, "prompt_tokens": 1,
            "completion_tokens": 1}


@pytest.fixture
def graded():
    return {
        "base": [[sample("Lambdaのログを見ます")], [sample("了解です")]],
        "tuned": [[sample("結論結論結論、Lambdaのデプロイが失敗する件でござるござるござる")],
                  [sample("よしなにでござる")]],
    }


def test_relevance_is_judged_for_both_models_and_hacks_are_flagged(graded):
    refs = ["Lambdaのログを見るでござる", "S3のライフサイクルで消すでござる"]
    p90 = axes.annotate(Grader(), PROMPTS, refs, graded)
    real = [Grader().score(r)[0] for r in refs]
    assert p90 == pytest.approx(float(np.quantile(real, 0.9)))  # the target's real replies set the ceiling
    (hack,), (plain,) = graded["tuned"]
    assert hack["relevance"] == 1.0 and plain["relevance"] == 0.0
    assert hack["score"] > p90 and "repeats the prompt" in hack["hacking"]
    assert any(h.startswith("repeats favourite phrases: 結論") for h in hack["hacking"])
    assert graded["base"][0][0]["relevance"] == 1.0 and "hacking" not in graded["base"][0][0]
    m = axes.metrics(graded, p90)
    assert m["eval/base_relevance_mean"] == 0.5 and m["eval/tuned_relevance_mean"] == 0.5
    assert m["eval/relevance_delta"] == 0.0 and m["eval/hacking_flagged"] == 0.5


def test_an_on_topic_reply_below_the_ceiling_is_not_flagged():
    assert axes.flags("Lambdaのデプロイが失敗する件", PROMPTS[0], style=0.5, p90=0.9, favourites=["結論"]) == []
    assert axes.flags("結論結論結論", "x", style=0.95, p90=0.9, favourites=["結論"]) != []
    assert axes.flags("結論結論結論", "x", style=0.95, p90=None, favourites=["結論"]) == []


def test_report_shows_relevance_and_the_flagged_outputs(graded, tmp_path):
    axes.annotate(Grader(), PROMPTS, [None, None], graded)  # no references: the bundle's figure, here none
    for samples in graded["tuned"]:
        for s in samples:
            s["hacking"] = axes.flags(s["text"], PROMPTS[0], s["score"], 0.5, ["結論", "ござる"])
    prompts = [{"id": str(i), "messages": [{"role": "user", "content": p}]} for i, p in enumerate(PROMPTS)]
    table = side_by_side(prompts, graded["base"], graded["tuned"])
    assert table["base_relevance"] == [1.0, 0.0] and table["tuned_flags"][0]
    result = {**axes.metrics(graded, 0.5), "eval/base_mean": 0.1, "eval/tuned_mean": 0.9}
    job = {"job_id": "j1", "backend": "local", "run_id": "r", "grader_version": "g-x"}
    text = render(job, result, table, [], Path(tmp_path / "r.md"))
    assert "| tuned relevance mean | 0.5 |" in text
    assert "## Tuned outputs that beat the target's own replies by repeating (1)" in text
