"""A study's plots as PNG files (Optuna's matplotlib plots), for calibration and the RFT search.

Calibration writes the optimisation history and the parameter importances (its DVC plots,
dvc.yaml `calibrate`); the search writes all four (its trials report intermediate values).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from rftlab.io import atomic_path

log = logging.getLogger(__name__)

PLOTS = {
    "optimization_history.png": "plot_optimization_history",
    "param_importances.png": "plot_param_importances",
    "parallel_coordinate.png": "plot_parallel_coordinate",
    "intermediate_values.png": "plot_intermediate_values",
}
HISTORY = ("optimization_history.png", "param_importances.png")  # what every study can show


def save_plots(study: Any, folder: str | Path, names: tuple[str, ...] = tuple(PLOTS)) -> list[Path]:
    """Write the plots `names` of the study into `folder`, each atomically; returns the files written.
    A plot the study cannot have yet (one parameter: no importances; no completed trial; no
    intermediate values) is skipped with a log line."""
    # Deferred: the Agg backend must be chosen before pyplot is imported (no display on a server).
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after the backend is chosen (above)
    import optuna.visualization.matplotlib as ovm

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "experimental" notices, equal importances
                ax = getattr(ovm, PLOTS[name])(study)
            fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
            fig.set_size_inches(8, 5)
            fig.tight_layout()
            with atomic_path(folder / name) as tmp:
                fig.savefig(tmp, format="png", dpi=90)
            plt.close(fig)
            written.append(folder / name)
        except Exception as exc:  # noqa: BLE001 - a missing plot must not fail the stage
            log.info("optuna plot %s skipped: %s", name, exc)
    return written
