"""What an RFT job is: the inputs that determine its result, their content hash, and the spec built
from params (the backend that runs it chosen through rftlab.plugins).

The hash covers the spec's fields AND the MD5s of the input files, so rerunning the
`rft` stage on the same inputs finds the same job (resume or report it) instead of
starting a duplicate, while any change to prompts, grader or base model makes a new job.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rftlab import plugins
from rftlab.errors import InputError
from rftlab.io import path_md5
from rftlab.plugins import BackendPlugin


class JobSpec(BaseModel):
    """One RFT job request, backend-neutral (hyperparameters use Bedrock's names)."""

    model_config = ConfigDict(extra="forbid")

    backend: str = "local"
    base_model: str
    train_path: str
    val_path: str | None = None
    grader_path: str
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    seed: int = 0
    options: dict[str, Any] = Field(default_factory=dict)

    def input_paths(self) -> dict[str, str]:
        """Input name -> local path, for the files whose bytes determine the job."""
        paths = {"train": self.train_path, "grader": self.grader_path}
        if self.val_path:
            paths["val"] = self.val_path
        if Path(self.base_model).exists():  # local model folder; Bedrock ids are plain strings
            paths["base_model"] = self.base_model
        return paths

    def input_digests(self) -> dict[str, str]:
        """Input name -> MD5 (DVC's digest: a file's bytes, a folder's listing)."""
        out = {}
        for name, path in self.input_paths().items():
            p = Path(path)
            if not p.exists():
                raise InputError(f"{path}: {name} input not found")
            out[name] = path_md5(p)
        return out

    def canonical(self) -> dict[str, Any]:
        """The JSON the hash is taken over: fields (paths excluded) + input digests.

        Paths are left out so moving the project does not change the job; the bytes do.
        """
        fields = self.model_dump(exclude={"train_path", "val_path", "grader_path"})
        if "base_model" in self.input_paths():
            fields["base_model"] = None
        hp = {k: v for k, v in sorted(self.hyperparameters.items()) if v is not None}
        return {**fields, "hyperparameters": hp, "inputs": self.input_digests()}

    def spec_hash(self) -> str:
        """sha256 over canonical JSON (sorted keys) of the spec and its input MD5s."""
        blob = json.dumps(self.canonical(), sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def job_id(self) -> str:
        """A stable, readable job id derived from the hash (one job per spec)."""
        return f"rft-{self.backend}-{self.spec_hash()[:12]}"


def route(rft: Any, requested: str | None, key: str = "rft.base_model") -> BackendPlugin:
    """The backend that runs a job: rft.backend's, or the backend of its family that takes the
    requested base model (a Nova id and an open-weight id go to Bedrock's two RFT APIs)."""
    plugin = plugins.backend(rft.backend)
    if not requested or plugin.claims_base_model(requested) or plugin.family is None:
        return plugin
    member = plugins.family_member(plugin.family, requested)
    if member is None:
        raise InputError(f"{key}: {requested} is not a base model of the {plugin.family} backends "
                         f"({plugins.family_help(plugin.family)})")
    return member


def build_spec(rft: Any, *, train: str, val: str | None, grader: str, base_model: str | None = None) -> JobSpec:
    """The job spec from the `rft` params section (options: only what changes the result)."""
    requested = base_model or rft.base_model
    plugin = route(rft, requested, "--base-model" if base_model else "rft.base_model")
    model, options = plugin.spec(rft, requested)
    for name, path in (("train", train), ("val", val), ("grader", grader)):
        if path and not Path(path).exists():
            raise InputError(f"{path}: {name} file not found")
    return JobSpec(backend=plugin.name, base_model=str(model), train_path=str(train),
                   val_path=str(val) if val else None, grader_path=str(grader),
                   hyperparameters=rft.hyperparameters_for(plugin.name).model_dump(), seed=rft.seed, options=options)
