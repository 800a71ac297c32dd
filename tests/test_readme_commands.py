"""Every command the README and docs/ print works as printed: the commands are extracted from fenced
blocks and inline code, and each is checked against the real tool: an `rftlab` command path and its
options exist (and its --help runs), a `dvc`/`mlflow` subcommand accepts the printed options, a `make`
target exists, a script or module exists. tests/test_dvc_experiments.py runs the README's pipeline
commands themselves (`.venv/bin/dvc repro`, `dvc exp run -S ...`, `dvc exp show`, `dvc metrics diff`)."""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from rftlab.cli import app

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TOOLS = ("rftlab", "dvc", "mlflow", "make", "python")
DVC_GROUPS = {"exp", "metrics", "plots", "params", "remote", "stage", "cache", "queue"}
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*(\.[a-z]+)?$|^<.*>$")  # EXP, JOB_ARN, NAME.py, <name>


def printed_commands(text: str) -> list[str]:
    """Shell commands in a Markdown text: fenced lines (comments dropped, `\\` continuations joined)
    and inline code spans that start with a known tool and have arguments."""
    found: list[str] = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            found.append(re.split(r"\s+#\s", line.strip())[0].strip())
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    found += [span.strip() for span in re.findall(r"`([^`\n]+)`", prose) if " " in span.strip()]
    return [c for c in found if c and c.split()[0].removeprefix(".venv/bin/") in TOOLS]


def all_printed() -> list[tuple[str, str]]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [(f.relative_to(ROOT).as_posix(), c) for f in files for c in printed_commands(f.read_text(encoding="utf-8"))]


def variants(cmd: str) -> list[list[str]]:
    """One token list per alternative the line prints: `a|b` words and ` | `-separated tails
    (`rftlab job list | status [JOB]`), optional `[...]` parts included, redirections dropped."""
    cmd = re.sub(r"\s[<>]\s*\S+", " ", cmd)                      # `< in.json > out.json`
    head, *tails = [part.strip() for part in cmd.split(" | ")]
    tokens = shlex.split(head.replace("[", " ").replace("]", " "))
    out = [tokens]
    for tail in tails:
        extra = shlex.split(tail.replace("[", " ").replace("]", " "))
        out.append(tokens + extra if extra[:1] and extra[0].startswith("-") else tokens[:-1] + extra)
    expanded = []
    for toks in out:
        choices = [[t] if t.startswith("-") or "|" not in t or "=" in t else t.split("|") for t in toks]
        combos = [[]]
        for options in choices:
            combos = [c + [o] for c in combos for o in options if o]
        expanded += combos
    return expanded


def options_of(tokens: list[str]) -> list[str]:
    return [t.split("=", 1)[0] for t in tokens if re.match(r"^--?[A-Za-z]", t)]


def check_rftlab(tokens: list[str]) -> str | None:
    group: Any = typer.main.get_command(app)
    path: list[str] = []
    for tok in tokens[1:]:
        if tok.startswith("-") or not hasattr(group, "commands"):
            break
        if PLACEHOLDER.match(tok):
            return None  # `rftlab COMMAND --help`: a pattern, not a command
        if tok not in group.commands:
            return f"no command {' '.join(['rftlab', *path, tok])!r}"
        group = group.commands[tok]
        path.append(tok)
    known = {o for p in group.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
    unknown = [o for o in options_of(tokens) if o not in known and o not in ("-v", "--verbose")]
    if unknown:
        return f"rftlab {' '.join(path)}: no option {', '.join(unknown)}"
    res = CliRunner().invoke(app, [*path, "--help"])
    return None if res.exit_code == 0 else f"rftlab {' '.join(path)} --help exited {res.exit_code}"


@cache
def help_text(tool: str, *sub: str) -> tuple[int, str]:
    out = subprocess.run([str(BIN / tool), *sub, "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    return out.returncode, out.stdout + out.stderr


def check_tool(tool: str, tokens: list[str]) -> str | None:
    words = [t for t in tokens[1:] if not t.startswith("-")]
    sub = words[:2] if tool == "dvc" and words[:1] and words[0] in DVC_GROUPS else words[:1]
    code, text = help_text(tool, *sub)
    if code != 0:
        return f"{tool} {' '.join(sub)} --help exited {code}"
    missing = [o for o in options_of(tokens) if not re.search(rf"(^|[\s,\[]){re.escape(o)}\b", text)]
    return f"{tool} {' '.join(sub)}: no option {', '.join(missing)}" if missing else None


def check_make(tokens: list[str]) -> str | None:
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M))
    missing = [t for t in tokens[1:] if not t.startswith("-") and "=" not in t and t not in targets]
    return f"make: no target {', '.join(missing)}" if missing else None


def check_python(tokens: list[str]) -> str | None:
    if "-m" in tokens:
        module = tokens[tokens.index("-m") + 1]
        return None if importlib.util.find_spec(module) else f"no module {module}"
    script = next((t for t in tokens[1:] if t.endswith(".py")), None)
    if script is None or PLACEHOLDER.match(Path(script).name):
        return None
    return None if (ROOT / script).exists() else f"no script {script}"


def problem(cmd: str) -> str | None:
    for tokens in variants(cmd):
        tool = tokens[0].removeprefix(".venv/bin/")
        if tokens[0].startswith(".venv/bin/") and not (ROOT / ".venv" / "bin" / tool).exists():
            return f"{tokens[0]} does not exist"
        check = {"rftlab": check_rftlab, "make": check_make, "python": check_python}.get(tool)
        why = check(tokens) if check else check_tool(tool, tokens)
        if why:
            return why
    return None


def test_the_extractor_sees_the_readme_commands():
    readme = [c for f, c in all_printed() if f == "README.md"]
    assert "make pipeline" in readme
    assert ".venv/bin/dvc exp run -S rft.local.hyperparameters.learningRate=3e-4 -n lr3e-4" in readme
    assert any(c.startswith(".venv/bin/dvc exp show") for c in readme)
    assert variants("rftlab job status|wait|stop") == [["rftlab", "job", "status"], ["rftlab", "job", "wait"],
                                                       ["rftlab", "job", "stop"]]
    assert problem("rftlab rft --no-such-option") == "rftlab rft: no option --no-such-option"
    assert problem("rftlab nosuch") == "no command 'rftlab nosuch'"
    assert problem(".venv/bin/dvc exp show --no-such-flag") == "dvc exp show: no option --no-such-flag"
    assert problem("make no-such-target") == "make: no target no-such-target"


@pytest.mark.parametrize(("where", "cmd"), all_printed(), ids=lambda v: v if len(v) < 60 else v[:57] + "...")
def test_printed_command_works(where, cmd):
    assert problem(cmd) is None, f"{where}: `{cmd}`: {problem(cmd)}"
