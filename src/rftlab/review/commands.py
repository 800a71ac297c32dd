"""CLI: `rftlab review` (serve the blind review page) and `rftlab review report` (thin; the work is in the
modules, imported inside each command to keep `rftlab --help` fast)."""

from __future__ import annotations

import typer

from rftlab.contracts import REVIEW_PREFIX
from rftlab.errors import InputError, cli_errors

review_app = typer.Typer()  # its help is review_cmd's docstring

def _kind(against: str) -> str:
    from rftlab.review.pairs import KINDS

    if against not in KINDS:
        raise InputError(f"--against: expected one of {', '.join(KINDS)}, got {against!r}")
    return KINDS[against]


def review_cmd(
    ctx: typer.Context,
    run: str | None = typer.Option(None, "--run", help="The evaluation's MLflow run id (default: the newest "
                                   "evaluation in the experiment)."),
    against: str = typer.Option("base", "--against", help="What the tuned reply is paired with: base (the base "
                                "model's reply) or real (the target's own reply in that thread)."),
    pairs: int = typer.Option(50, "--pairs", min=1, help="Pairs in a new review (drawn with the seed); a review "
                              "prepared before keeps its pairs."),
    port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free port)."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of a new review (default: params evaluate.seed)."),
    target: str = typer.Option("the target", "--target", help="How the page names the person, e.g. \"Tanaka\"."),
    experiment: str | None = typer.Option(None, "--experiment", help="MLflow experiment (default: params "
                                          "tracking.experiment)."),
) -> None:
    """Serve the blind review page of an evaluation on 127.0.0.1 until Ctrl-C.

    The first run prepares the review: one MLflow trace per pair under the evaluation run (the tuned reply and the other one as A and B in a random order; which is which is kept in the run's artifact review/<kind>/key.json, not on the trace). Each reviewer gives their name once, then sees each pair with its replies in an order of their own and picks the one that sounds like the target, or can't tell (keys 1, 2, 3). Every vote is an MLflow feedback on the pair's trace, by that reviewer; a second vote replaces the first. Details: docs/review.md.
    """
    if ctx.invoked_subcommand is not None:
        return
    from rftlab.config import load_params
    from rftlab.review import app, server, store

    kind = _kind(against)
    params = load_params()
    run_id = store.evaluation_run(run, experiment)
    review, made = store.prepare(run_id, kind, pairs=pairs, seed=params.evaluate.seed if seed is None else seed)
    votes = store.votes(review)
    try:
        srv = server.make_server(port, lambda p: app.App(review, votes, port=p, target=target,
                                                          record=store.record_vote))
    except OSError as exc:
        raise InputError(f"--port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}); "
                         "pick another port") from None
    reviewers = len({who for who, _ in votes})
    typer.echo(f"review {kind} of evaluation run {run_id}: {len(review.items)} pairs "
               f"({'prepared now' if made else 'prepared before'}; {len(votes)} votes by {reviewers} reviewer(s) so far)")
    typer.echo(f"open http://127.0.0.1:{srv.server_address[1]}/  "
               "(Ctrl-C or kill stops it; each vote is stored when it is cast)")
    server.serve(srv)
    typer.echo("review server stopped")


def report_cmd(
    run: str | None = typer.Option(None, "--run", help="The evaluation's MLflow run id (default: the newest "
                                   "evaluation in the experiment)."),
    against: str = typer.Option("base", "--against", help="Which review: base or real."),
    experiment: str | None = typer.Option(None, "--experiment", help="MLflow experiment (default: params "
                                          "tracking.experiment)."),
    log: bool = typer.Option(True, "--log/--no-log", help="Also log the metrics and review/<kind>/report.json "
                             "and .md into the evaluation run."),
) -> None:
    """The people's preference with its 95 % interval, per reviewer, and the agreement of the grader, the verifier and the judge with the people's majority (share of pairs, Cohen's kappa).

    Reads the review's votes from MLflow; metric names in docs/contracts.md, definitions in docs/review.md.
    """
    from rftlab.config import load_params
    from rftlab.review import report, store

    kind = _kind(against)
    params = load_params()
    run_id = store.evaluation_run(run, experiment)
    review = store.load(run_id, kind)
    if review is None:
        raise InputError(f"evaluation run {run_id} has no {kind} review: run `rftlab review --run {run_id}"
                         f"{'' if against == 'base' else ' --against ' + against}` first")
    rep = report.build(review, store.votes(review), bootstrap=params.evaluate.bootstrap, seed=params.evaluate.seed)
    typer.echo(report.markdown(rep), nl=False)
    if log:
        report.publish(rep)
        typer.echo(f"logged into MLflow run {run_id} (review/{kind}/report.json, metrics {REVIEW_PREFIX[kind]}/*)")


def register(groups: dict) -> None:
    review_app.callback(invoke_without_command=True)(cli_errors(review_cmd))
    review_app.command("report")(cli_errors(report_cmd))
    groups["app"].add_typer(review_app, name="review")
