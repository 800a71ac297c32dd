"""`rftlab grader audit BUNDLE`: the detectors over every token of a grader bundle or profile.

A bundle is registered in MLflow and built into the Lambda image, so it must hold no personal
data. The audit walks every string of the JSON (object keys, which is where profile tokens live,
and string values), runs the detectors on each and groups what it finds by kind. `calibrate`
audits the profile it puts into the bundle and `grader package` audits the bundle it ships;
both refuse on any finding. Findings are shown masked (`名詞:09*******78`): the audit's own
output must not leak what it found.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rftlab.errors import GateFailed
from rftlab.io import read_json
from rftlab.privacy.tokens import personal


@dataclass
class AuditReport:
    source: str
    tokens: int = 0
    found: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # kind -> [(where, masked)]

    @property
    def passed(self) -> bool:
        return not self.found

    def lines(self) -> list[str]:
        """One line per kind: how many tokens, and the first one (masked) with where it sits."""
        out = []
        for kind in sorted(self.found):
            hits = self.found[kind]
            where, masked = hits[0]
            n = len(hits)
            out.append(f"{self.source}: {kind} in {n} token{'s' if n != 1 else ''}, e.g. {masked!r} at {where}")
        return out

    def summary(self) -> str:
        kinds = ", ".join(f"{k}: {len(v)}" for k, v in sorted(self.found.items()))
        return f"{self.source}: personal data in a grader bundle ({kinds} tokens)"


class PrivacyAuditFailed(GateFailed):
    """A bundle or profile holds tokens in which the detectors find personal data (exit 1)."""


def mask(token: str, start: int, end: int) -> str:
    """The token with the found span starred out but for its first and last two characters."""
    span = token[start:end]
    keep = 2 if len(span) > 6 else 1 if len(span) > 2 else 0
    hidden = span[:keep] + "*" * (len(span) - 2 * keep) + (span[-keep:] if keep else "")
    return token[:start] + hidden + token[end:]


def strings(obj: Any, where: str = "$") -> Iterator[tuple[str, str]]:
    """(JSON path, string) for every object key and string value in `obj`."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            key = str(k)
            yield f"{where} (key)", key
            yield from strings(v, f"{where}.{key}" if len(key) <= 24 and key.isascii() else f"{where}.*")
    elif isinstance(obj, list):
        for v in obj:
            yield from strings(v, f"{where}[]")
    elif isinstance(obj, str):
        yield where, obj


def audit_obj(obj: Any, source: str = "bundle") -> AuditReport:
    report = AuditReport(source)
    for where, token in strings(obj):
        report.tokens += 1
        for f in personal(token):
            report.found.setdefault(f.kind, []).append((where, mask(token, f.start, f.end)))
    return report


def audit_file(path: str | os.PathLike) -> AuditReport:
    return audit_obj(read_json(path), str(path))


def require_clean(path: str | os.PathLike, what: str) -> None:
    """Refuse (PrivacyAuditFailed, one line) when the file at `path` fails the audit."""
    report = audit_file(path)
    if not report.passed:
        raise PrivacyAuditFailed(f"{report.summary()}; refusing to {what}. Rebuild the profile from scrubbed "
                                 f"messages (rftlab ingest, profile.min_users); details: rftlab grader audit {path}")


def audit_cmd(bundle: Path) -> None:
    """`rftlab grader audit`: exit 0 when nothing is found, else one line per kind and exit 1."""
    # typer loads only for the CLI
    import typer

    report = audit_file(bundle)
    if report.passed:
        typer.echo(f"{bundle}: no personal data found in {report.tokens:,} tokens")
        return
    for line in report.lines():
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(1)

