"""`rftlab rehearse`: the paid Bedrock path, end to end, against local stand-ins (no AWS account, no cost).

Thin: parse options, start the servers (rehearsal/servers.py), run the pipeline
(rehearsal/pipeline.py), print the outcome. Heavy imports happen inside the commands.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import typer

from rftlab.errors import cli_errors

rehearse_app = typer.Typer(
    invoke_without_command=True,
    help="Rehearse the Bedrock path offline before a paid job: moto (S3, IAM, STS, Lambda, ECR) and a local "
    "Bedrock stand-in on 127.0.0.1, fake credentials, then rft -> deploy -> evaluate with rft.backend=bedrock "
    "in a `dvc exp run --temp` copy (your params.yaml and data stay as they are).",
)


def _terminate_like_ctrl_c() -> None:
    """SIGTERM runs the same cleanup as Ctrl-C: servers stopped, the dvc child killed by subprocess.run."""
    import signal

    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)


def _pairs(values: list[str]) -> dict[str, str]:
    from rftlab.errors import InputError

    out = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep or not key:
            raise InputError(f"--set {v!r}: expected KEY=VALUE (a params.yaml key, as for dvc exp run -S)")
        out[key] = value
    return out


def _prepare(root: Path, workdir: Path, grader: Path | None) -> tuple[Path | None, str | None, Any]:
    """Package the grader's build context (the "image"); returns (context, image tag, params)."""
    from rftlab.config import Params, load_params
    from rftlab.errors import ConfigError, InputError

    try:
        params = load_params()
    except ConfigError:
        if grader is not None:
            raise
        params = Params()  # `rehearse servers` outside a project: the default names
    if grader is None:
        return None, None, params
    if not grader.exists():
        raise InputError(f"{grader}: grader bundle not found; run the local stages first "
                         "(dvc repro check base_model, or make pipeline)")
    from rftlab.grader.package import package

    context = workdir / "grader-lambda"
    manifest = package(grader, context, fmt="image")
    return context, str(manifest.get("deployment_version") or manifest["grader_version"]), params


def _hold(rehearsal: Any, extra: dict[str, Any]) -> None:
    from rftlab.backends.bedrock.rehearsal.pipeline import settings

    typer.echo("# the rehearsal account; paste into a shell (fake credentials, local endpoints only):")
    typer.echo(rehearsal.exports())
    typer.echo("# params for the seeded account (dvc exp run -S KEY=VALUE):")
    for key, value in settings(rehearsal, extra).items():
        typer.echo(f"#   -S {key}={value}")
    typer.echo("servers are up; Ctrl-C stops them", err=True)
    while True:
        time.sleep(3600)


@rehearse_app.callback()
@cli_errors
def rehearse(
    ctx: typer.Context,
    keep_servers: bool = typer.Option(False, "--keep-servers", help="Keep the servers up afterwards and print "
                                      "the env to export (Ctrl-C stops them)."),
    set_: list[str] = typer.Option([], "--set", "-S", help="Extra params for the run, KEY=VALUE (repeatable)."),
    fail: str | None = typer.Option(None, "--fail", help="Make the job fail on purpose: STAGE:MESSAGE, STAGE one "
                                    "of validationDetails, dataProcessingDetails, trainingDetails."),
    grader: Path = typer.Option(Path("data/grader/grader.json"), "--grader", help="Grader bundle baked into the "
                                "fake Lambda image."),
    model: Path = typer.Option(Path("data/models/base"), "--model", help="Local causal LM that answers Converse "
                               "(a fixed reply when the folder is missing)."),
    workdir: Path | None = typer.Option(None, "--workdir", help="Scratch folder (grader image context, Lambda "
                                        "logs); default a new temporary folder."),
) -> None:
    """Run rft -> deploy -> evaluate on the Bedrock path against local servers, then print the job, the MLflow
    run, the reward curves and the evaluation. The servers are always stopped at the end (also on Ctrl-C)."""
    if ctx.invoked_subcommand:
        return
    from rftlab.backends.bedrock.rehearsal import pipeline, servers
    from rftlab.backends.bedrock.rehearsal.seed import policy_for
    from rftlab.config import project_root

    _terminate_like_ctrl_c()
    t0 = time.monotonic()
    root = project_root()
    work = workdir or Path(tempfile.mkdtemp(prefix="rftlab-rehearsal-"))
    context, tag, params = _prepare(root, work, root / grader if not grader.is_absolute() else grader)
    b = params.rft.bedrock
    lm = model if model.is_absolute() else root / model
    extra: dict[str, Any] = {"rft.bedrock.build_context": context, **_pairs(set_)}
    # IAM enforced: the stages run as an IAM user holding exactly the caller policy `rftlab bedrock policies` writes
    with servers.running(workdir=work, context=context, image_tag=tag, model_dir=lm if lm.is_dir() else None,
                         repository=b.ecr_repository, region=b.region, fail=fail,
                         open_weight_region=params.rft.section("bedrock_open_weight").region,
                         caller_policy=lambda settings: policy_for(settings, params)) as rehearsal:
        outcome = pipeline.run(root, rehearsal, extra=extra, echo=lambda m: typer.echo(m, err=True))
        typer.echo("rehearsal finished in %.0f s (nothing was sent to AWS):" % (time.monotonic() - t0))
        for line in outcome.lines():
            typer.echo(f"  {line}")
        typer.echo(f"  logs     {work}")
        if keep_servers:
            _hold(rehearsal, extra)


@rehearse_app.command("servers")
@cli_errors
def servers_cmd(
    grader: Path | None = typer.Option(None, "--grader", help="Also package this grader bundle and push its fake "
                                       "image to the fake ECR (prints rft.bedrock.image_uri)."),
    model: Path | None = typer.Option(None, "--model", help="Local causal LM that answers Converse."),
    workdir: Path | None = typer.Option(None, "--workdir", help="Scratch folder (default: a temporary one)."),
) -> None:
    """Only start the servers and print the env to export, for running rftlab (or boto3) by hand."""
    from rftlab.backends.bedrock.rehearsal import servers
    from rftlab.backends.bedrock.rehearsal.seed import policy_for

    _terminate_like_ctrl_c()
    work = workdir or Path(tempfile.mkdtemp(prefix="rftlab-rehearsal-"))
    context, tag, params = _prepare(Path.cwd(), work, grader)
    b = params.rft.bedrock
    extra = {"rft.bedrock.build_context": context} if context else {}
    with servers.running(workdir=work, context=context, image_tag=tag, model_dir=model, repository=b.ecr_repository,
                         region=b.region, open_weight_region=params.rft.section("bedrock_open_weight").region,
                         caller_policy=lambda settings: policy_for(settings, params)) as rehearsal:
        _hold(rehearsal, extra)


def register(groups: dict[str, Any]) -> None:
    groups["app"].add_typer(rehearse_app, name="rehearse")
