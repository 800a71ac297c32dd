"""Optuna helpers shared by calibration and the RFT search: the study plots as PNG files."""

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


def save_plots(study: Any, folder: str | Path, names: tuple[str, ...] = tuple(PLOTS)) -> list[Path]:
    """Optuna's matplotlib plots of the study, written atomically; a plot the study cannot have yet
    (one parameter: no importances; no completed trial; no intermediate values) is skipped."""
    # matplotlib loads only when a figure is drawn
    import matplotlib

    matplotlib.use("Agg")
    # matplotlib loads only when a figure is drawn
    import matplotlib.pyplot as plt
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
