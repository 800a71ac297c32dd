"""CLI: `rftlab score`, `rftlab invoke`, `rftlab grader package` (thin)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from rftlab.errors import InputError, cli_errors


def _stdin_or(path: Optional[Path]):
    if path is None or str(path) == "-":
        return sys.stdin
    if not path.exists():
        raise InputError(f"{path}: file not found")
    return open(path, encoding="utf-8")


def _stdout_or(path: Optional[Path]):
    if path is None or str(path) == "-":
        return None
    from rftlab.io import atomic_open

    return atomic_open(path)


def score_cmd(
    grader: Path = typer.Option(..., "--grader", "-g", help="Grader bundle (grader.json) or a bare style profile (default weights)."),
    input: Optional[Path] = typer.Option(None, "--input", "-i", help="texts.jsonl (default: stdin). Lines: {\"id\", \"text\"[, \"prompt\"]}."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="scores.jsonl (default: stdout)."),
) -> None:
    """Score texts: texts.jsonl on stdin -> scores.jsonl on stdout, same order.

    Each output line is {"id", "score" in [0, 1], "components": {...}}.
    """
    from rftlab.grader.bundle import load_grader

    g = load_grader(grader)
    src = _stdin_or(input)
    name = str(input) if input else "<stdin>"
    lines = []
    for lineno, raw in enumerate(src, start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"{name}:{lineno}: invalid JSON: {exc.msg}") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise InputError(f"{name}:{lineno}: expected an object with a string 'text'")
        prompt = row.get("prompt") if isinstance(row.get("prompt"), str) else None
        score, comps = g.score(row["text"], prompt=prompt)
        lines.append(json.dumps({"id": row.get("id", lineno), "score": round(score, 6),
                                 "components": {k: round(v, 6) for k, v in comps.items()}}, ensure_ascii=False))
    _emit("".join(line + "\n" for line in lines), output)


def _emit(text: str, output: Optional[Path]) -> None:
    """Write the whole result at once: to stdout, or atomically to --output."""
    sink = _stdout_or(output)
    if sink is None:
        sys.stdout.write(text)
    else:
        with sink as fh:
            fh.write(text)


def _read_payload(path: Optional[Path]) -> tuple[Any, str]:
    """(parsed JSON, name) of a grader payload file or stdin; one-line InputError otherwise."""
    if path is None or str(path) == "-":
        name = "<stdin>"
        stream = getattr(sys.stdin, "buffer", None)  # bytes, so a bad byte is reported, not raised
        raw = stream.read() if stream is not None else sys.stdin.read().encode("utf-8", "surrogateescape")
    elif not path.is_file():
        raise InputError(f"{path}: {'is a directory' if path.is_dir() else 'file not found'}, expected a grader payload JSON file")
    else:
        name, raw = str(path), path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None
    try:
        return json.loads(text), name
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except ValueError:  # json's int() past Python's digit limit (sys.get_int_max_str_digits)
        raise InputError(f"{name}: unreadable JSON: a number has more than "
                         f"{sys.get_int_max_str_digits()} digits") from None
    except RecursionError:
        raise InputError(f"{name}: unreadable JSON: nested too deeply") from None


def invoke_cmd(
    grader: Path = typer.Option(..., "--grader", "-g", help="Grader bundle (grader.json) or a bare style profile."),
    input: Optional[Path] = typer.Option(None, "--input", "-i", help="Bedrock grader payload JSON (default: stdin)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Response JSON (default: stdout)."),
) -> None:
    """Run the Lambda handler locally: Bedrock grader payload in, grader response out.

    Exactly the code path the deployed Lambda runs (rftlab.grader.handler.handle). The payload
    is a JSON list of samples or {"trajectories": [...]}; anything else, invalid JSON or
    non-UTF-8 input is a one-line error (exit 2).
    """
    from rftlab.grader.bundle import load_grader
    from rftlab.grader.handler import handle, read_samples

    g = load_grader(grader)
    payload, name = _read_payload(input)
    if read_samples(payload) is None:
        raise InputError(f"{name}: not a grader payload: expected a JSON list of samples or "
                         f"{{\"trajectories\": [...]}}, got {_json_kind(payload)}")
    resp = handle(payload, g)
    text = json.dumps(resp, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (a valid JSON escape) echoed in an id: keep it escaped
        text = json.dumps(resp)
    _emit(text + "\n", output)


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object without 'messages', 'id' or a 'trajectories'/'samples' list"
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def package_cmd(
    grader: Path = typer.Option(Path("data/grader/grader.json"), "--grader", "-g", help="Grader bundle to ship."),
    out: Path = typer.Option(Path("build/grader-lambda"), "--out", "-o", help="Build-context folder to (re)create."),
    fmt: str = typer.Option("image", "--format", help="image (Lambda container image) or zip (refused above 250 MB unzipped)."),
) -> None:
    """Write the grader's Lambda container-image build context and manifest.json.

    The folder holds a Dockerfile (public.ecr.aws/lambda/python:3.13), requirements.txt,
    the rftlab source, the bundle and manifest.json (grader version, installed size, files).
    """
    from rftlab.grader.package import package

    manifest = package(grader, out, fmt=fmt)
    typer.echo(f"grader {manifest['grader_version']}: build context {out} "
               f"(~{manifest['installed_size']['total_mb']} MB installed)", err=True)


def register(groups: dict) -> None:
    app, grader_app = groups["app"], groups["grader"]
    app.command("score")(cli_errors(score_cmd))
    app.command("invoke")(cli_errors(invoke_cmd))
    grader_app.command("package")(cli_errors(package_cmd))
