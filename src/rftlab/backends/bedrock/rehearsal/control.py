"""The Bedrock control plane at the stand-in: one method per operation, named as in botocore's model.

Inputs arrive already parsed and validated against the operation's input shape (wire.py);
answers are checked against the output shape before they are sent. Only RFT is simulated:
CreateModelCustomizationJob takes customizationType REINFORCEMENT_FINE_TUNING with an
rftConfig Lambda grader on Amazon Nova 2 Lite (`amazon.nova-2-lite-v1:0:256k`, the only Nova
model for RFT through this API). A job name already in use is a ValidationException "The provided
job name is currently in use." (Bedrock's wording for model import jobs, quoted in
https://github.com/aws/sagemaker-python-sdk/pull/6076).
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from typing import Any

from rftlab.backends.bedrock.rehearsal.deployments import Deployments, page
from rftlab.backends.bedrock.rehearsal.jobs import Job, JobRunner, stoppable
from rftlab.backends.bedrock.rehearsal.options import (
    RFT_BASE_MODEL,
    STAGES,
    StandInOptions,
    new_id,
    now,
)
from rftlab.backends.bedrock.rehearsal.wire import ServiceError

OPERATIONS = ("CreateModelCustomizationJob", "GetModelCustomizationJob", "ListModelCustomizationJobs",
              "StopModelCustomizationJob", "ListTagsForResource", "GetCustomModel", "CreateCustomModelDeployment",
              "GetCustomModelDeployment", "ListCustomModelDeployments", "UpdateCustomModelDeployment")


class ControlPlane:
    def __init__(self, opts: StandInOptions):
        self.opts = opts
        self.lock = threading.Lock()
        self.jobs: dict[str, Job] = {}
        self.tokens: dict[str, str] = {}
        self.models: dict[str, dict[str, Any]] = {}
        self.closing = threading.Event()
        self.deployments = Deployments(opts, self.models)

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation in self.deployments.operations:
            return getattr(self.deployments, operation)(params)
        return getattr(self, operation)(params)

    # ------------------------------------------------------------------ jobs
    def _base_model(self, identifier: str) -> str:
        if identifier in (RFT_BASE_MODEL, self.opts.foundation_arn(RFT_BASE_MODEL)):
            return self.opts.foundation_arn(RFT_BASE_MODEL)
        raise ServiceError("ValidationException", f"The base model {identifier} is not supported for "
                           f"reinforcement fine-tuning in {self.opts.region}; use {RFT_BASE_MODEL}")  # own wording

    def _check_role(self, role_arn: str) -> None:
        """Bedrock assumes the service role: it must exist and trust bedrock.amazonaws.com."""
        # botocore loads with the first AWS call: offline commands never pay for it
        from botocore.exceptions import ClientError

        try:
            role = self.opts.client("iam").get_role(RoleName=role_arn.rsplit("/", 1)[-1])["Role"]
        except ClientError:
            role = None
        doc = (role or {}).get("AssumeRolePolicyDocument") or {}
        if isinstance(doc, str):
            doc = json.loads(urllib.parse.unquote(doc))
        trusted = any("bedrock.amazonaws.com" in json.dumps(s.get("Principal", {})) and s.get("Effect") == "Allow"
                      for s in doc.get("Statement", []))
        if not trusted:
            raise ServiceError("ValidationException", f"Amazon Bedrock cannot assume the role {role_arn}: it does "
                               "not exist or does not trust bedrock.amazonaws.com")  # own wording

    def CreateModelCustomizationJob(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        with self.lock:
            token = p.get("clientRequestToken")
            if token and token in self.tokens:
                return {"jobArn": self.tokens[token]}
            if p.get("customizationType") != "REINFORCEMENT_FINE_TUNING":
                raise ServiceError("ValidationException", "The stand-in simulates customizationType "
                                   "REINFORCEMENT_FINE_TUNING only")  # own wording
            grader = (((p.get("customizationConfig") or {}).get("rftConfig") or {}).get("graderConfig") or {})
            if not grader.get("lambdaGrader"):
                raise ServiceError("ValidationException", "customizationConfig.rftConfig.graderConfig.lambdaGrader "
                                   "is required for reinforcement fine-tuning")  # own wording
            base = self._base_model(p["baseModelIdentifier"])
            if any(j.name == p["jobName"] for j in self.jobs.values()):
                raise ServiceError("ValidationException", "The provided job name is currently in use.")
            self._check_role(p["roleArn"])
            job_id = new_id()
            arn = self.opts.arn("model-customization-job", f"{RFT_BASE_MODEL}/{job_id}")
            job = Job(arn=arn, job_id=job_id, request=p, base_model_arn=base, created=now(),
                      stages={s: {"status": "NotStarted"} for s in STAGES})
            self.jobs[arn] = job
            if token:
                self.tokens[token] = arn
        threading.Thread(target=JobRunner(job, self.opts, self._completed, self.closing).run, daemon=True,
                         name=f"job-{job_id}").start()
        return {"jobArn": arn}

    def _completed(self, job: Job) -> None:
        r = job.request
        self.models[str(job.model_arn)] = {
            "modelArn": job.model_arn, "modelName": r["customModelName"], "jobName": job.name, "jobArn": job.arn,
            "baseModelArn": job.base_model_arn, "customizationType": r["customizationType"],
            "trainingDataConfig": r["trainingDataConfig"], "validationDataConfig": r.get("validationDataConfig"),
            "outputDataConfig": r["outputDataConfig"], "customizationConfig": r.get("customizationConfig"),
            "creationTime": now(), "modelStatus": "Active", "tags": list(r.get("customModelTags") or []),
        }

    def job(self, identifier: str) -> Job:
        """A job by ARN or by name."""
        found = self.jobs.get(identifier) or next((j for j in self.jobs.values() if j.name == identifier), None)
        if found is None:
            raise ServiceError("ResourceNotFoundException",
                               f"Could not find the model customization job {identifier}")  # own wording
        return found

    def GetModelCustomizationJob(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return self.job(p["jobIdentifier"]).describe()

    def ListModelCustomizationJobs(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        jobs = [j.summary() for j in list(self.jobs.values())]
        if p.get("nameContains"):
            jobs = [j for j in jobs if p["nameContains"] in j["jobName"]]
        if p.get("statusEquals"):
            jobs = [j for j in jobs if j["status"] == p["statusEquals"]]
        if p.get("creationTimeAfter"):
            jobs = [j for j in jobs if j["creationTime"] > p["creationTimeAfter"]]
        if p.get("creationTimeBefore"):
            jobs = [j for j in jobs if j["creationTime"] < p["creationTimeBefore"]]
        return page(jobs, "modelCustomizationJobSummaries", p)

    def StopModelCustomizationJob(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        job = self.job(p["jobIdentifier"])
        stoppable(job)
        job.status, job.modified = "Stopping", now()
        job.stop.set()
        return {}

    # ------------------------------------------------------------------ models and tags
    def GetCustomModel(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        ident = p["modelIdentifier"]
        model = self.models.get(ident) or next((m for m in self.models.values() if m["modelName"] == ident), None)
        if model is None:
            raise ServiceError("ResourceNotFoundException", f"Could not find the custom model {ident}")  # own wording
        return {k: v for k, v in model.items() if k != "tags" and v is not None}

    def ListTagsForResource(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        arn = p["resourceARN"]
        if arn in self.jobs:
            return {"tags": self.jobs[arn].tags}
        if arn in self.models:
            return {"tags": self.models[arn]["tags"]}
        tags = self.deployments.tags(arn)
        if tags is None:
            raise ServiceError("ResourceNotFoundException", f"Could not find the resource {arn}")  # own wording
        return {"tags": tags}

    def close(self) -> None:
        self.closing.set()
