"""CLI: `rftlab calibrate`, `rftlab grader check` and `rftlab grader audit` (thin: parse, load params, call the stage)."""

from __future__ import annotations

from pathlib import Path

import typer

from rftlab.errors import cli_errors


def calibrate_cmd(
    messages: Path = typer.Option(..., "--messages", "-m", help="Messages JSONL (id, user, text; optional group/thread_ts/channel/ts)."),
    author: str = typer.Option(..., "--author", "-a", help="Target user id; every other user is background."),
    profile: Path = typer.Option(..., "--profile", "-p", help="style_profile.json built on all messages (goes into the bundle)."),
    out: Path = typer.Option(..., "--out", "-o", help="Grader bundle to write (profile + best weights + version)."),
    trials: int | None = typer.Option(None, "--trials", "-n", help="Completed trials the study should hold (default: params calibrate.trials). A rerun continues the study and only runs the missing ones."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the folds and the TPE sampler (default: params calibrate.seed)."),
    storage: str | None = typer.Option(None, "--storage", help="Optuna storage URL (default: params calibrate.storage, else sqlite optuna.db beside --out)."),
    metrics: Path | None = typer.Option(None, "--metrics", help="Write the summary (best AUC, trials) here, e.g. metrics/calibrate.json."),
    plots: Path | None = typer.Option(None, "--plots", help="Folder for Optuna's history/importance PNGs (default: plots/ beside --out)."),
    headline: Path | None = typer.Option(None, "--headline", help="Also write the few headline numbers here (committed for `dvc exp show`)."),
    register: bool = typer.Option(True, "--register/--no-register", help="Register the bundle as a grader version (alias champion when it wins) (also needs params tracking.register_models)."),
) -> None:
    """Search the grader's weights with Optuna to separate --author from everyone else on
    held-out folds (split by group/thread/channel-day, never by row), then write the bundle.

    Features are tokenised once and cached beside --out; each trial only re-weights.
    The study persists (sqlite beside --out, or calibrate.storage): rerunning continues it.
    Every trial is an MLflow child run of one `calibration` run.
    """
    from rftlab.calibrate import calibrate_stage
    from rftlab.config import load_params
    from rftlab.privacy.audit import require_clean

    params = load_params()
    p = params.calibrate
    # the profile is the bundle's only text: a failing one is refused before any bundle is written or registered
    require_clean(profile, "calibrate a grader bundle from it")
    summary = calibrate_stage.run(
        messages, author, profile, out,
        trials=trials if trials is not None else p.trials,
        seed=seed if seed is not None else p.seed,
        folds=p.folds,
        storage=storage or p.storage,
        study_name=p.study_name,
        gaming_penalty=p.gaming_penalty,
        background_per_fold=p.background_per_fold,
        metrics_path=metrics,
        headline=headline,
        plots_dir=plots,
        register=register and params.tracking.register_models,
    )
    typer.echo(
        f"best held-out AUC {summary['best_auc']:.4f} (default weights {summary['default_weights_auc']:.4f}) "
        f"trial {summary['best_trial']}, {summary['trials']} trials in study '{summary['study']}' "
        f"-> {out} ({summary['grader_version']})"
    )
    reg = summary.get("registry")
    if reg:
        typer.echo(f"registered grader version {reg.get('version')}: {reg.get('decision')}")


def check_cmd(
    grader: Path = typer.Option(..., "--grader", "-g", help="Grader bundle (or bare profile) to test."),
    messages: Path = typer.Option(..., "--messages", "-m", help="Messages JSONL: held-out folds are drawn from it."),
    author: str | None = typer.Option(None, "--author", "-a", help="Target user id (default: the profile's author)."),
    prompts: Path | None = typer.Option(None, "--prompts", help="Prompt JSONL with reference_answer: check references score in the top decile."),
    metrics: Path | None = typer.Option(None, "--metrics", help="Write the metrics JSON here, e.g. metrics/check.json."),
    plots: Path | None = typer.Option(None, "--plots", help="Folder for DVC plot data (roc.json, scores.json) and check.png."),
    headline: Path | None = typer.Option(None, "--headline", help="Also write the few headline numbers here (committed for `dvc exp show`)."),
) -> None:
    """Self-test gate before any RFT job: held-out AUC, target vs background score
    histograms, ROC curve, gaming attempts vs the target's median, score spread within a
    group, and (with --prompts) references in the top decile. Thresholds come from params
    `check`; any failed check exits 1 naming the check, its value and its threshold.
    """
    from rftlab.calibrate import check_stage

    result = check_stage.run(grader, messages, author=author, prompts_path=prompts, metrics_path=metrics,
                             headline=headline, plots_dir=plots)
    typer.echo(result["report"])


def audit_cmd(
    bundle: Path = typer.Argument(..., help="Grader bundle (grader.json) or style profile to audit."),
) -> None:
    """Run the PII detectors over every token of a grader bundle (or a style profile).

    Exit 0 when nothing is found; exit 1 with one line per kind of personal data found (how
    many tokens, a masked example and where it sits); exit 2 when the file is missing or not
    JSON. `calibrate` and `grader package` run the same audit and refuse a failing file.
    """
    from rftlab.privacy.audit import audit_cmd as run_audit

    run_audit(bundle)


def register(groups: dict) -> None:
    groups["app"].command("calibrate")(cli_errors(calibrate_cmd))
    groups["grader"].command("check")(cli_errors(check_cmd))
    groups["grader"].command("audit")(cli_errors(audit_cmd))
