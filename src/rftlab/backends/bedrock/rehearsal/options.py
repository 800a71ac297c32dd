"""How the Bedrock stand-in behaves: account, timing, the simulated training, models, failure injection."""

from __future__ import annotations

import datetime as dt
import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Nova 2 Lite: the customization (training) id and the inference profiles Converse takes
# (Nova 2 user guide, "Core inference": https://docs.aws.amazon.com/nova/latest/nova2-userguide/core-inference.html).
RFT_BASE_MODEL = "amazon.nova-2-lite-v1:0:256k"
FOUNDATION_MODEL = "amazon.nova-2-lite-v1:0"
INFERENCE_PROFILES = ("us.amazon.nova-2-lite-v1:0", "global.amazon.nova-2-lite-v1:0")
# Job tag that makes one job fail on purpose: value "<stage>:<failureMessage>", stage one of STAGES.
FAIL_TAG = "rftlab.rehearsal.fail"
STAGES = ("validationDetails", "dataProcessingDetails", "trainingDetails")


@dataclass
class StandInOptions:
    """Everything the stand-in needs to know; the defaults finish a job in about two seconds."""

    aws_endpoint: str                     # moto server: S3 (data, outputs), IAM (roles), Lambda (grader)
    region: str = "us-east-1"
    account: str = "123456789012"         # moto's default account, so ARNs agree across both servers
    stage_seconds: float = 0.3            # validation and data processing each take this long
    step_seconds: float = 0.05            # one simulated training step
    deploy_seconds: float = 0.5           # a custom model deployment is Creating (or Updating) this long
    max_steps: int = 12                   # the simulated run is at most this many steps
    prompts_per_step: int = 4             # prompts graded per step (x trainingSamplePerPrompt completions)
    val_prompts: int = 8                  # prompts behind each val-score/rewards/mean@1
    fail: str | None = None               # "<stage>:<message>": every job fails there (see FAIL_TAG)
    images: dict[str, Path] = field(default_factory=dict)  # image URI -> its Docker build context
    default_context: Path | None = None   # build context for images not listed in `images`
    model_dir: Path | None = None         # local causal LM behind Converse (None: a fixed reply)
    reply: str = "(rehearsal reply)"
    workdir: Path | None = None           # grader Lambda logs go here (like CloudWatch Logs)
    seed: int = 0
    authorizer: Any = None                # rehearsal.enforce.Enforcer when IAM is enforced (None: every call passes)

    def client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client for moto with the rehearsal's own credentials (AWS's side: never the user's, never
        the process env), in `region` (default the stand-in's)."""
        # boto3 loads with the first AWS call
        import boto3

        return boto3.session.Session(
            aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal", region_name=region or self.region
        ).client(service, endpoint_url=self.aws_endpoint)

    def arn(self, kind: str, rest: str) -> str:
        return f"arn:aws:bedrock:{self.region}:{self.account}:{kind}/{rest}"

    def foundation_arn(self, model_id: str) -> str:
        return f"arn:aws:bedrock:{self.region}::foundation-model/{model_id}"


def new_id() -> str:
    """Twelve lowercase letters/digits: the `[a-z0-9]{12}` tail of Bedrock job, model and deployment ARNs."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(12))


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
