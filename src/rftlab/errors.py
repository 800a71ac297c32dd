import functools

"""Expected failures: the CLI prints these as one line and exits non-zero, no traceback."""


class RftlabError(Exception):
    """A problem the user can fix (bad input, bad config, missing credentials)."""

    exit_code = 2


class ConfigError(RftlabError):
    """params.yaml is missing, malformed or has an invalid value."""


class InputError(RftlabError):
    """An input file is missing, corrupt or not what the command expects."""


class GateFailed(RftlabError):
    """A quality gate (grader check, prompt validation) did not pass."""

    exit_code = 1


def cli_errors(fn):
    """Wrap a typer command: expected errors become one line on stderr and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        # typer loads only for the CLI
        import typer

        try:
            return fn(*args, **kwargs)
        except RftlabError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper
