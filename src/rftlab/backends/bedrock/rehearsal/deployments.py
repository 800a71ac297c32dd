"""Custom model deployments at the stand-in: on-demand inference for a completed job's model.

A deployment is Creating for `deploy_seconds`, then Active; UpdateCustomModelDeployment shows
`updateDetails.updateStatus` Updating, then UpdateCompleted, and only then serves the new model
(API reference: CreateCustomModelDeployment, UpdateCustomModelDeployment). Its ARN is the
`modelId` for Converse (https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-use.html).
CreateCustomModelDeployment models no ConflictException, so a name in use is a ValidationException.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from rftlab.backends.bedrock.rehearsal.options import StandInOptions, new_id, now
from rftlab.backends.bedrock.rehearsal.wire import ServiceError


def page(items: list[dict[str, Any]], key: str, params: dict[str, Any]) -> dict[str, Any]:
    """Sort by creation time (default Descending), then one page of `maxResults` with an opaque nextToken."""
    time_key = "creationTime" if items and "creationTime" in items[0] else "createdAt"
    items = sorted(items, key=lambda x: x[time_key], reverse=params.get("sortOrder", "Descending") == "Descending")
    token = str(params.get("nextToken") or "0")
    if not token.isdigit():
        raise ServiceError("ValidationException", f"Invalid pagination token {token}")  # own wording
    start = int(token)
    size = int(params.get("maxResults") or 1000)
    out: dict[str, Any] = {key: items[start:start + size]}
    if start + size < len(items):
        out["nextToken"] = str(start + size)
    return out


class Deployments:
    operations = ("CreateCustomModelDeployment", "GetCustomModelDeployment", "ListCustomModelDeployments",
                  "UpdateCustomModelDeployment")

    def __init__(self, opts: StandInOptions, models: dict[str, dict[str, Any]]):
        self.opts = opts
        self.models = models
        self.items: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str] = {}
        self.lock = threading.Lock()

    def _ready(self, since: dt.datetime) -> bool:
        return (now() - since).total_seconds() >= self.opts.deploy_seconds

    def view(self, d: dict[str, Any]) -> dict[str, Any]:
        """The GetCustomModelDeployment answer, status worked out from the clock."""
        out = {"customModelDeploymentArn": d["arn"], "modelDeploymentName": d["name"], "modelArn": d["modelArn"],
               "createdAt": d["createdAt"], "status": "Active" if self._ready(d["createdAt"]) else "Creating",
               "description": d.get("description"), "lastUpdatedAt": d.get("lastUpdatedAt") or d["createdAt"]}
        update = d.get("update")
        if update:
            if self._ready(update["since"]):
                d["modelArn"], d["update"] = update["modelArn"], None
                out["modelArn"] = d["modelArn"]
                out["updateDetails"] = {"modelArn": d["modelArn"], "updateStatus": "UpdateCompleted"}
            else:
                out["updateDetails"] = {"modelArn": update["modelArn"], "updateStatus": "Updating"}
        elif d.get("updated"):
            out["updateDetails"] = {"modelArn": d["modelArn"], "updateStatus": "UpdateCompleted"}
        return {k: v for k, v in out.items() if v is not None}

    def find(self, ident: str) -> dict[str, Any]:
        """A deployment by ARN or name."""
        d = self.items.get(ident) or next((x for x in self.items.values() if x["name"] == ident), None)
        if d is None:
            raise ServiceError("ResourceNotFoundException",
                               f"Could not find the custom model deployment {ident}")  # own wording
        return d

    def serving(self, arn: str) -> dict[str, Any] | None:
        """The deployment behind a Converse modelId, or None when `arn` is no deployment here."""
        return self.view(self.items[arn]) if arn in self.items else None

    def tags(self, arn: str) -> list[dict[str, str]] | None:
        return list(self.items[arn].get("tags") or []) if arn in self.items else None

    def _model(self, arn: str) -> dict[str, Any]:
        model = self.models.get(arn)
        if model is None:
            raise ServiceError("ResourceNotFoundException", f"Could not find the custom model {arn}")  # own wording
        return model

    def CreateCustomModelDeployment(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        with self.lock:
            token = p.get("clientRequestToken")
            if token and token in self.tokens:
                return {"customModelDeploymentArn": self.tokens[token]}
            self._model(p["modelArn"])
            if any(d["name"] == p["modelDeploymentName"] for d in self.items.values()):
                raise ServiceError("ValidationException",
                                   "The provided deployment name is currently in use.")  # modelled on job names
            arn = self.opts.arn("custom-model-deployment", new_id())
            self.items[arn] = {"arn": arn, "name": p["modelDeploymentName"], "modelArn": p["modelArn"],
                               "description": p.get("description"), "tags": p.get("tags") or [], "createdAt": now()}
            if token:
                self.tokens[token] = arn
        return {"customModelDeploymentArn": arn}

    def GetCustomModelDeployment(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return self.view(self.find(p["customModelDeploymentIdentifier"]))

    def ListCustomModelDeployments(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        rows = []
        for d in list(self.items.values()):
            v = self.view(d)
            rows.append({"customModelDeploymentArn": v["customModelDeploymentArn"],
                         "customModelDeploymentName": v["modelDeploymentName"], "modelArn": v["modelArn"],
                         "createdAt": v["createdAt"], "status": v["status"], "lastUpdatedAt": v["lastUpdatedAt"]})
        if p.get("nameContains"):
            rows = [r for r in rows if p["nameContains"] in r["customModelDeploymentName"]]
        if p.get("statusEquals"):
            rows = [r for r in rows if r["status"] == p["statusEquals"]]
        if p.get("modelArnEquals"):
            rows = [r for r in rows if r["modelArn"] == p["modelArnEquals"]]
        if p.get("createdAfter"):
            rows = [r for r in rows if r["createdAt"] > p["createdAfter"]]
        if p.get("createdBefore"):
            rows = [r for r in rows if r["createdAt"] < p["createdBefore"]]
        return page(rows, "modelDeploymentSummaries", p)

    def UpdateCustomModelDeployment(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        with self.lock:
            d = self.find(p["customModelDeploymentIdentifier"])
            self._model(p["modelArn"])
            v = self.view(d)
            if v["status"] != "Active" or (v.get("updateDetails") or {}).get("updateStatus") == "Updating":
                raise ServiceError("ValidationException", f"The deployment {d['name']} is {v['status']} "
                                   "and cannot be updated now")  # own wording
            d["update"] = {"modelArn": p["modelArn"], "since": now()}
            d["updated"] = True
            d["lastUpdatedAt"] = now()
        return {"customModelDeploymentArn": d["arn"]}
