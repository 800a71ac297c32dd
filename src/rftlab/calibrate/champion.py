"""Register a calibrated bundle and move the `champion` alias only when it wins.

"Wins" is judged on the same held-out data: each registered version carries tags with
its held-out digest, CV AUC, objective and weights. When the champion was calibrated on
the same digest its stored objective is compared; otherwise the champion's weights are
re-scored through this run's folds, so the comparison is never across datasets.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ALIAS = "champion"
DIGEST, CV_AUC, OBJECTIVE, WEIGHTS = "rftlab.heldout_digest", "rftlab.cv_auc", "rftlab.cv_objective", "rftlab.weights"


def model_name() -> str:
    from rftlab.grader import registry

    for attr in ("MODEL_NAME", "REGISTERED_MODEL", "REGISTERED_MODEL_NAME", "NAME"):
        if isinstance(getattr(registry, attr, None), str):
            return getattr(registry, attr)
    return "rftlab-grader"


def champion_objective(tags: dict[str, str], digest: str, objective: Any) -> tuple[float | None, str]:
    """(champion's objective on this held-out data, how it was obtained)."""
    if tags.get(DIGEST) == digest and OBJECTIVE in tags:
        return float(tags[OBJECTIVE]), "stored score on the same held-out data"
    if WEIGHTS in tags:
        try:
            weights = json.loads(tags[WEIGHTS])
            return objective(weights).value, "champion weights re-scored on this held-out data"
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("champion weights unreadable: %s", exc)
    return None, "champion has no comparable score"


def promote_if_better(out: Path, bundle: dict, objective: Any, best: Any, digest: str) -> dict[str, Any]:
    from rftlab import tracking
    from rftlab.grader import registry

    name = model_name()
    version = str(registry.register_grader(out))
    tracking.set_model_version_tags(name, version, {
        DIGEST: digest, CV_AUC: round(best.mean_auc, 6), OBJECTIVE: round(best.value, 6),
        WEIGHTS: json.dumps(bundle.get("weights", {}), sort_keys=True), tracking.GRADER_VERSION: bundle["version"],
    })
    champ = tracking.model_version_by_alias(name, ALIAS)
    result: dict[str, Any] = {"model": name, "version": version, "objective": round(best.value, 6)}
    if champ is not None and str(champ.version) == version:
        result["decision"] = "already champion"
        return result
    if champ is None:
        promote, why = True, "no previous champion"
    else:
        score, basis = champion_objective(dict(champ.tags), digest, objective)
        result.update({"champion_version": str(champ.version), "champion_objective": score, "basis": basis})
        promote = score is None or best.value > score + 1e-9
        why = f"{basis}: {best.value:.4f} vs champion v{champ.version} " + ("n/a" if score is None else f"{score:.4f}")
    if promote:
        registry.set_alias(version, ALIAS)
    result["decision"] = ("promoted to champion" if promote else "kept previous champion") + f" ({why})"
    tracking.set_tags({"rftlab.champion": str(promote).lower(), "rftlab.model_version": version})
    log.info("grader v%s: %s", version, result["decision"])
    return result
