"""Optional augmentation of the *training* split up to `augment.min_count` records.

Validation is never augmented (it must stay the target's real conversations). Bedrock
paraphrases come first when `augment.bedrock_paraphrase` is true and AWS credentials
exist (they cost money, so they are never implicit); templated variations from
`augment.templates` ("{prompt}" wrappers) fill what remains. Variations apply to the last
user message, keep the original's reference answer, thread and channel (so they stay on
the training side of the split), and pass the same filters as real prompts (length, PII,
dedupe). Originals are visited in a seeded order, so the output is deterministic for the
templates.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

from rftlab.aws import aws_errors, client
from rftlab.aws.models import inference_id

PARAPHRASE_INSTRUCTION = (
    "Rewrite the following message so that it asks or says the same thing in different words, "
    "in the same language and register. Reply with the rewritten message only.\n\n"
)

Accept = Callable[[str], str | None]  # text -> reason to reject, or None


def _variant(record: dict, text: str, suffix: str, source: str) -> dict:
    new = copy.deepcopy(record)
    new["messages"][-1]["content"] = text
    new["id"] = f"{record['id']}~{suffix}"
    new["source"] = source
    new["augmented_from"] = record["id"]
    return new


def augment(
    train: list[dict],
    *,
    min_count: int,
    templates: list[str],
    seed: int = 0,
    paraphrase: Callable[[str], str | None] | None = None,
    accept: Accept = lambda text: None,
) -> tuple[list[dict], dict[str, int]]:
    """Variations of `train` records until len(train) + len(new) >= min_count; returns (new, counts)."""
    counts = {"paraphrase": 0, "template": 0, "rejected": 0}
    need = min_count - len(train)
    if need <= 0 or not train:
        return [], counts
    originals = list(train)
    random.Random(seed).shuffle(originals)
    out: list[dict] = []

    def add(record: dict, text: str | None, suffix: str, source: str) -> None:
        if text is None or not text.strip() or accept(text) is not None:
            counts["rejected"] += 1
            return
        out.append(_variant(record, text.strip(), suffix, source))
        counts[source] += 1

    if paraphrase is not None:
        for rec in originals:
            if len(out) >= need:
                break
            add(rec, paraphrase(rec["messages"][-1]["content"]), "p", "paraphrase")
    for j, template in enumerate(templates):
        for rec in originals:
            if len(out) >= need:
                break
            add(rec, template.replace("{prompt}", rec["messages"][-1]["content"]), f"t{j}", "template")
    return out, counts


def bedrock_paraphraser(model_id: str, region: str, *, max_tokens: int = 512) -> Callable[[str], str | None]:
    """A text -> paraphrase function backed by bedrock-runtime Converse."""

    model_id = inference_id(model_id, region)
    runtime = client("bedrock-runtime", region)

    def run(text: str) -> str | None:
        with aws_errors(f"paraphrasing a prompt with {model_id}"):
            resp: dict[str, Any] = runtime.converse(
                modelId=model_id,
                messages=[{"role": "user", "content": [{"text": PARAPHRASE_INSTRUCTION + text}]}],
                inferenceConfig={"maxTokens": max_tokens, "temperature": 0.7},
            )
        parts = resp.get("output", {}).get("message", {}).get("content", [])
        joined = "".join(p.get("text", "") for p in parts if isinstance(p, dict)).strip()
        return joined or None

    return run
