"""The `rftlab` command. Thin: each concern registers its own commands from `<concern>/commands.py`,
each backend plugin its own (rftlab.plugins).

Command modules import only typer and the standard library at import time, so
`rftlab --help` stays fast; heavy libraries load inside the command that needs them.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from rftlab import plugins

app = typer.Typer(
    name="rftlab",
    no_args_is_help=True,
    add_completion=False,
    help="Reinforcement fine-tuning toward one person's writing style: "
    "Slack export -> style grader -> prompts -> RFT job (local or Bedrock) -> evaluation, tracked in MLflow.",
)
grader_app = typer.Typer(no_args_is_help=True, help="Grader utilities: self-test gate, packaging.")
prompts_app = typer.Typer(no_args_is_help=True, help="Build and validate RFT prompt sets.")
job_app = typer.Typer(no_args_is_help=True, help="Follow, stop and sync RFT jobs.")
app.add_typer(grader_app, name="grader")
app.add_typer(prompts_app, name="prompts")
app.add_typer(job_app, name="job")

GROUPS = {"app": app, "grader": grader_app, "prompts": prompts_app, "job": job_app}
CONCERNS = ("slack", "style", "grader", "calibrate", "prompts", "preflight", "jobs", "evaluate", "review", "search")


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time, so a replaced stream (tests, pipes) is never stale."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress to stderr.")) -> None:
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)


for _concern in CONCERNS:
    try:
        _mod = importlib.import_module(f"rftlab.{_concern}.commands")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"rftlab.{_concern}.commands":
            raise
        continue
    _mod.register(GROUPS)
for _plugin in plugins.plugins().values():  # each backend's own commands (rftlab.plugins)
    _plugin.register_commands(GROUPS)


def _plain_help(typer_app: typer.Typer) -> None:
    """Click's own help layout for every command: whole sentences re-wrapped to the terminal, flags
    without a `<bool>` placeholder, option names never cut at 80 columns (rich's panels do all three)."""
    typer_app.rich_markup_mode = None
    typer_app.pretty_exceptions_enable = False
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _plain_help(group.typer_instance)


_plain_help(app)


def main() -> None:
    app(prog_name="rftlab")


if __name__ == "__main__":
    main()
