"""Grader versions in the MLflow model registry (through rftlab.tracking, the mlflow owner).

The registered model is a pyfunc that scores a DataFrame column `text` (optional `prompt`)
into `score` plus one column per component; each version carries the bundle's content
hash as the `rftlab.grader_version` tag, so a job can name the exact grader it trained
against. Registering the same bundle twice returns the existing version.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rftlab import contracts, tracking
from rftlab.errors import InputError
from rftlab.grader.bundle import load_grader

MODEL_NAME = "rftlab-grader"
BUNDLE_ARTIFACT = "grader_bundle"


def _load_state(artifacts: dict[str, str]) -> Any:
    return load_grader(artifacts[BUNDLE_ARTIFACT])


def predict_frame(grader: Any, frame: Any) -> Any:
    """DataFrame with `text` (and optionally `prompt`) -> DataFrame of score + components."""
    # pandas loads only for tables
    import pandas as pd

    if isinstance(frame, dict):
        frame = pd.DataFrame(frame)
    if not hasattr(frame, "columns") or "text" not in frame.columns:
        raise InputError("grader model input needs a `text` column")
    prompts = list(frame["prompt"]) if "prompt" in frame.columns else [None] * len(frame)
    rows = []
    for text, prompt in zip(frame["text"], prompts):
        score, comps = grader.score(text if isinstance(text, str) else "",
                                    prompt=prompt if isinstance(prompt, str) else None)
        rows.append({"score": score, **comps})
    return pd.DataFrame(rows, index=frame.index)


def register_grader(bundle_path: str | os.PathLike, *, model_name: str | None = None) -> str:
    """Register the bundle as a pyfunc model version (or find it again); returns the version.

    Registering does not move any alias: rftlab.calibrate.champion decides `champion`.
    """
    # pandas loads only for tables
    import pandas as pd

    model_name = model_name or MODEL_NAME

    path = Path(bundle_path)
    grader = load_grader(path)
    existing = tracking.find_model_versions(model_name, contracts.GRADER_VERSION, grader.version)
    if existing:
        return str(existing[0].version)

    def _log() -> str:
        info = tracking.log_pyfunc_model(
            name="grader",
            predict=predict_frame,
            load_context=_load_state,
            artifacts={BUNDLE_ARTIFACT: str(path.resolve())},
            registered_model_name=model_name,
            input_example=pd.DataFrame({"text": ["了解です。明日対応します。"]}),
        )
        version = str(info.registered_model_version)
        tracking.set_model_version_tags(model_name, version, {contracts.GRADER_VERSION: grader.version})
        tracking.set_tags({contracts.GRADER_VERSION: grader.version, "rftlab.model_version": version})
        return version

    if tracking.active_run_id() is not None:
        return _log()
    with tracking.stage_run("grader", run_name=f"grader {grader.version}",
                            tags={contracts.GRADER_VERSION: grader.version}):
        return _log()


def set_alias(version: str, alias: str = "champion", *, model_name: str | None = None) -> None:
    """Point `alias` (e.g. champion) at a registered grader version."""

    tracking.set_model_alias(model_name or MODEL_NAME, alias, str(version))
