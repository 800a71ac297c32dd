"""The simulated RFT run: read the prompts from S3, grade rollouts with the real grader, write the metrics CSVs.

No model is trained. Each step takes a few prompts, makes `trainingSamplePerPrompt`
completions per prompt by mixing the prompt's reference answer with off-style text (the mix
improves over the steps, so rewards rise), and sends them to the grader Lambda in the
payload AWS documents: the training record's own fields, a unique `id`, and `messages` with
the completion appended as the assistant turn (Nova 2 user guide, "Implementing reward
functions": https://docs.aws.amazon.com/nova/latest/nova2-userguide/nova-implementing-reward-functions.html).
Rewards are the grader's `aggregate_reward_score`; `actor/*` columns are simulated numbers.

The CSVs go where the user guide says model customization metrics go
(https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-analyze.html):
`<output s3Uri>/model-customization-job-<jobId>/training_artifacts/step_wise_training_metrics.csv` and
`.../validation_artifacts/post_fine_tuning_validation/validation_metrics.csv`, with
`step_number` (from 0) and `epoch_number`. The RFT metric names are the ones the user guide lists
under "Monitor your RFT training job"
(https://docs.aws.amazon.com/bedrock/latest/userguide/rft-submit-job.html#rft-monitor-job);
AWS does not show the CSV headers themselves, so using those names as headers is our assumption.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rftlab.backends.bedrock.launch import MAX_RECORDS, MIN_RECORDS

TRAIN_COLUMNS = ("step_number", "epoch_number", "critic/rewards/mean", "critic/rewards/max", "critic/rewards/min",
                 "actor/entropy", "actor/pg_loss", "actor/pg_clipfrac", "actor/grad_norm", "response_length/mean",
                 "response/aborted_ratio", "val-score/rewards/mean@1")
VAL_COLUMNS = ("step_number", "epoch_number", "val-score/rewards/mean@1")
TRAIN_KEY = "training_artifacts/step_wise_training_metrics.csv"
VAL_KEY = "validation_artifacts/post_fine_tuning_validation/validation_metrics.csv"


class DataError(Exception):
    """The training or validation data is unusable; the job fails in validation with this message."""


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def read_records(s3: Any, uri: str) -> list[dict[str, Any]]:
    """The JSONL records at `uri`, each checked: an object whose `messages` end with a user turn."""
    # botocore loads with the first AWS call: offline commands never pay for it
    from botocore.exceptions import ClientError

    bucket, key = split_s3(uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    except ClientError as exc:
        raise DataError(f"Unable to read {uri}: {exc.response.get('Error', {}).get('Code')}") from None
    except UnicodeDecodeError:
        raise DataError(f"{uri} is not UTF-8 text") from None
    records = []
    for n, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            raise DataError(f"{uri}: line {n} is not valid JSON") from None
        msgs = rec.get("messages") if isinstance(rec, dict) else None
        if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) for m in msgs):
            raise DataError(f"{uri}: line {n} has no messages array")
        if msgs[-1].get("role") != "user" or not isinstance(msgs[-1].get("content"), str):
            raise DataError(f"{uri}: line {n}: the last message must be a user message with text content")
        records.append(rec)
    return records


def check_training_size(records: list[dict[str, Any]], uri: str) -> None:
    if not MIN_RECORDS <= len(records) <= MAX_RECORDS:
        raise DataError(f"{uri} has {len(records)} records; reinforcement fine-tuning needs between "
                        f"{MIN_RECORDS} and {MAX_RECORDS}")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("text", "content", "answer", "explanation"):
            if isinstance(value.get(key), str):
                return value[key]
    return json.dumps(value, ensure_ascii=False) if value is not None else ""


@dataclass
class Plan:
    steps: int
    epochs: int
    samples: int           # trainingSamplePerPrompt
    max_tokens: int        # inferenceMaxTokens (about one token per Japanese character)
    eval_interval: int


def plan(hp: dict[str, Any], records: int, max_steps: int) -> Plan:
    """The real run's step count (epochCount x ceil(records / batchSize)), compressed to `max_steps`."""
    epochs = int(hp.get("epochCount") or 1)
    real = epochs * max(1, math.ceil(records / int(hp.get("batchSize") or 16)))
    steps = max(1, min(real, max_steps))
    interval = int(hp.get("evalInterval") or max(1, steps // 4))
    return Plan(steps, epochs, int(hp.get("trainingSamplePerPrompt") or 4),
                int(hp.get("inferenceMaxTokens") or 256), interval)


class Simulation:
    """Step-wise rows of the training CSV; `grade` sends one batch to the grader and returns its answer."""

    def __init__(self, job_id: str, train: list[dict], val: list[dict], p: Plan,
                 grade: Callable[[list[dict]], list[dict]], *, prompts_per_step: int, val_prompts: int, seed: int):
        self.job_id, self.train, self.p, self.grade = job_id, train, p, grade
        self.val = (val or train)[:val_prompts]
        self.per_step = prompts_per_step
        self.rng = random.Random(f"{seed}:{job_id}")

    def _completion(self, rec: dict, quality: float) -> tuple[str, bool]:
        ref = _text(rec.get("reference_answer"))
        filler = str(rec["messages"][-1]["content"]) * 3
        keep = round(quality * len(ref))
        text = ref[:keep] + filler[: max(0, len(ref) - keep)]
        return (text[: self.p.max_tokens], True) if len(text) > self.p.max_tokens else (text, False)

    def _batch(self, records: list[dict], n: int, quality: float, tag: str) -> tuple[list[float], list[str], int]:
        payload, texts, aborted = [], [], 0
        for j, rec in enumerate(records):
            for k in range(n):
                q = min(1.0, max(0.0, quality + self.rng.uniform(-0.3, 0.3)))
                text, cut = self._completion(rec, q)
                aborted += cut
                texts.append(text)
                sample = {key: v for key, v in rec.items() if key not in ("messages", "id")}
                payload.append({**sample, "id": f"{self.job_id}-{tag}-{j}-{k}",
                                "messages": [*rec["messages"], {"role": "assistant", "content": text}]})
        answer = self.grade(payload)
        if not isinstance(answer, list) or len(answer) != len(payload):
            raise ValueError(f"expected a list of {len(payload)} results, got {type(answer).__name__}")
        by_id = {str(r.get("id")): r for r in answer if isinstance(r, dict)}
        scores = [float(by_id.get(s["id"], {}).get("aggregate_reward_score") or 0.0) for s in payload]
        return scores, texts, aborted

    def quality(self, step: int) -> float:
        return 0.15 + 0.7 * step / max(1, self.p.steps - 1)

    def val_score(self, step: int, tag: str = "val") -> float:
        scores, _, _ = self._batch(self.val, 1, self.quality(step), f"{tag}{step}")
        return sum(scores) / len(scores)

    def epoch(self, step: int) -> int:
        return step * self.p.epochs // self.p.steps

    def step(self, step: int) -> dict[str, Any]:
        prompts = self.rng.sample(self.train, min(self.per_step, len(self.train)))
        rewards, texts, aborted = self._batch(prompts, self.p.samples, self.quality(step), f"s{step}")
        mean = sum(rewards) / len(rewards)
        spread = math.sqrt(sum((r - mean) ** 2 for r in rewards) / len(rewards))
        progress = step / max(1, self.p.steps - 1)
        row: dict[str, Any] = {
            "step_number": step, "epoch_number": self.epoch(step),
            "critic/rewards/mean": mean, "critic/rewards/max": max(rewards), "critic/rewards/min": min(rewards),
            "actor/entropy": 1.2 - 0.5 * progress + self.rng.uniform(-0.05, 0.05),
            "actor/pg_loss": -0.1 * spread + self.rng.uniform(-0.01, 0.01),
            "actor/pg_clipfrac": 0.05 * (1 - progress), "actor/grad_norm": 0.2 + spread,
            "response_length/mean": sum(map(len, texts)) / len(texts),
            "response/aborted_ratio": aborted / len(texts), "val-score/rewards/mean@1": None,
        }
        if step % self.p.eval_interval == 0 or step == self.p.steps - 1:
            row["val-score/rewards/mean@1"] = self.val_score(step)
        return row


def to_csv(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    """CSV text; a value that is None (no validation at that step) is an empty cell."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow(["" if row.get(c) is None else (f"{row[c]:.6g}" if isinstance(row[c], float) else row[c])
                    for c in columns])
    return buf.getvalue()


def job_folder(output_uri: str, job_id: str) -> tuple[str, str]:
    """(bucket, key prefix) of `<output s3Uri>/model-customization-job-<jobId>/`."""
    bucket, key = split_s3(output_uri)
    prefix = "/".join(p for p in (key.strip("/"), f"model-customization-job-{job_id}") if p)
    return bucket, prefix + "/"
