"""Grader versions in the registry; the `champion` alias only for a grader that passed the gate.

Only the project's pipeline bundle is registered: `rftlab calibrate --out` equal to
`<project>/data/grader/grader.json` (the path dvc.yaml's calibrate and check stages use; the
project is the folder of params.yaml). Calibrating to any other path writes the bundle and
leaves the registry alone, so a scratch calibration never touches the project's grader.

The calibrate stage registers the version WITHOUT the alias, tagged with its held-out scores
and `rftlab.gate = pending`. `rftlab grader check` on the pipeline bundle tags the gate's
verdict (`passed` / `failed`); only when the gate passes does the version take `champion`, and
only if it beats the current champion on the check's held-out data (a champion checked on the
same data: its stored check objective; otherwise its weights re-scored through the same folds)
or there is none. A version that fails the gate is never promoted.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from rftlab import contracts, tracking
from rftlab.config import params_path
from rftlab.grader import registry

log = logging.getLogger(__name__)

ALIAS = "champion"
DIGEST, CV_AUC, OBJECTIVE, WEIGHTS = "rftlab.heldout_digest", "rftlab.cv_auc", "rftlab.cv_objective", "rftlab.weights"
GATE, CHECK_DIGEST, CHECK_OBJECTIVE = "rftlab.gate", "rftlab.check_digest", "rftlab.check_objective"
PIPELINE_BUNDLE = Path("data/grader/grader.json")  # dvc.yaml: calibrate --out, check --grader


def model_name() -> str:
    return registry.MODEL_NAME


def pipeline_bundle() -> Path:
    """The project's grader bundle: PIPELINE_BUNDLE under the folder holding params.yaml."""

    return (params_path().parent / PIPELINE_BUNDLE).resolve()


def is_pipeline_bundle(path: str | os.PathLike) -> bool:
    return Path(path).resolve() == pipeline_bundle()


def champion_objective(tags: dict[str, str], digest: str, objective: Any, *,
                       digest_tag: str = DIGEST, objective_tag: str = OBJECTIVE) -> tuple[float | None, str]:
    """(champion's objective on this held-out data, how it was obtained)."""
    if tags.get(digest_tag) == digest and objective_tag in tags:
        return float(tags[objective_tag]), "stored score on the same held-out data"
    if WEIGHTS in tags:
        try:
            weights = json.loads(tags[WEIGHTS])
            return objective(weights).value, "champion weights re-scored on this held-out data"
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("champion weights unreadable: %s", exc)
    return None, "champion has no comparable score"


def register_candidate(out: Path, bundle: dict, objective: Any, best: Any, digest: str) -> dict[str, Any] | None:
    """Calibrate's registry step: register the pipeline bundle as a version without the alias.

    Returns None (and registers nothing) for any other `out`: an ad-hoc calibration.
    """

    if not is_pipeline_bundle(out):
        log.info("%s is not the pipeline bundle %s: not registered", out, pipeline_bundle())
        return None
    name = model_name()
    version = str(registry.register_grader(out, model_name=name))
    tags = {DIGEST: digest, CV_AUC: round(best.mean_auc, 6), OBJECTIVE: round(best.value, 6),
            WEIGHTS: json.dumps(bundle.get("weights", {}), sort_keys=True), contracts.GRADER_VERSION: bundle["version"]}
    with tracking.registry_lock():  # two workers registering one bundle tag one version: one at a time
        known = tracking.find_model_versions(name, contracts.GRADER_VERSION, bundle["version"])
        if not any(GATE in dict(v.tags) for v in known):  # the same bundle again keeps its verdict
            tags[GATE] = "pending"
        tracking.set_model_version_tags(name, version, tags)
    tracking.set_tags({"rftlab.model_version": version})
    return {"model": name, "version": version, "objective": round(best.value, 6),
            "decision": "registered without the champion alias (`rftlab grader check` promotes it if the gate passes)"}



def after_gate(grader_path: str | os.PathLike, grader_version: str, passed: bool, objective: Any,
               weights: dict[str, float], digest: str) -> dict[str, Any] | None:
    """Record the gate's verdict on the registered pipeline version; promote it when it passed and wins.

    None when `grader_path` is not the pipeline bundle or was never registered.
    """

    if not is_pipeline_bundle(grader_path):
        return None
    name = model_name()
    found = tracking.find_model_versions(name, contracts.GRADER_VERSION, grader_version)
    if not found:
        log.info("grader %s is not registered (calibrate registers the pipeline bundle)", grader_version)
        return None
    version = str(found[0].version)
    value = objective(weights).value
    tracking.set_model_version_tags(name, version, {
        GATE: "passed" if passed else "failed", CHECK_DIGEST: digest, CHECK_OBJECTIVE: round(value, 6)})
    result: dict[str, Any] = {"model": name, "version": version, "objective": round(value, 6)}
    champ = tracking.model_version_by_alias(name, ALIAS)
    if not passed:
        result["decision"] = "gate failed: not promoted"
        return result
    if champ is not None and str(champ.version) == version:
        result["decision"] = "already champion"
        return result
    if champ is None:
        promote, why = True, "no previous champion"
    else:
        score, basis = champion_objective(dict(champ.tags), digest, objective,
                                          digest_tag=CHECK_DIGEST, objective_tag=CHECK_OBJECTIVE)
        result.update({"champion_version": str(champ.version), "champion_objective": score, "basis": basis})
        promote = score is None or value > score + 1e-9
        why = f"{basis}: {value:.4f} vs champion v{champ.version} " + ("n/a" if score is None else f"{score:.4f}")
    if promote:
        registry.set_alias(version, ALIAS, model_name=name)
    result["decision"] = ("promoted to champion" if promote else "kept previous champion") + f" ({why})"
    tracking.set_tags({"rftlab.champion": str(promote).lower(), "rftlab.model_version": version})
    log.info("grader v%s: %s", version, result["decision"])
    return result
