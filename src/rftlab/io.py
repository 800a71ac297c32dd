"""File helpers shared by every stage: atomic writes, JSONL streaming, digests."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rftlab.errors import InputError

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside `path`; rename it over `path` only if the block succeeds.

    Readers never see a half-written output, and a failed stage leaves the old one intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual mode
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8"):
    """Open a file for writing that appears at `path` only when closed without error."""
    if "b" in mode:
        encoding = None
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=encoding) as fh:
            yield fh


def write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 2) -> None:
    """Deterministic JSON (sorted keys, UTF-8 kept readable), written atomically."""
    with atomic_open(path) as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=indent, sort_keys=True)
        fh.write("\n")


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> int:
    """Write rows as JSONL atomically; returns the number written."""
    n = 0
    with atomic_open(path) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False))
            fh.write("\n")
            n += 1
    return n


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def iter_jsonl(path: str | os.PathLike, *, required: Iterable[str] = ()) -> Iterator[dict]:
    """Stream JSON objects from a JSONL file; bad lines raise with file and line number."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    required = tuple(required)
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise InputError(f"{path}:{lineno}: not UTF-8") from None
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{lineno}: invalid JSON: {exc.msg}") from None
            if not isinstance(obj, dict):
                raise InputError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            missing = [k for k in required if k not in obj]
            if missing:
                raise InputError(f"{path}:{lineno}: missing field(s) {', '.join(missing)}")
            yield obj


def read_messages(path: str | os.PathLike) -> list[dict]:
    """Load a messages file (docs/contracts.md#messages-file): id, user, text required; text must be a string."""
    rows = []
    for i, row in enumerate(iter_jsonl(path, required=("id", "user", "text")), start=1):
        if not isinstance(row["text"], str):
            raise InputError(f"{path}: record {i} (id {row['id']!r}): text must be a string")
        row["id"], row["user"] = str(row["id"]), str(row["user"])
        rows.append(row)
    return rows


def file_md5(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """MD5 of a file's bytes, the digest DVC 3 records for a file dependency."""
    h = hashlib.md5()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def path_md5(path: str | os.PathLike) -> str:
    """MD5 of a file, or of a directory's sorted (relative path, file md5) listing."""
    path = Path(path)
    if path.is_file():
        return file_md5(path)
    h = hashlib.md5()
    for p in sorted(q for q in path.rglob("*") if q.is_file()):
        h.update(f"{p.relative_to(path).as_posix()}\0{file_md5(p)}\n".encode())
    return h.hexdigest() + ".dir"


class atomic_dir:
    """Write a folder beside `path`, then swap it in; a failed run leaves the old one."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent))
        return self.tmp

    def __exit__(self, exc_type, *_: Any) -> None:
        if exc_type is None:
            old = self.path.with_name(f".{self.path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            if self.path.exists():
                self.path.rename(old)
            self.tmp.rename(self.path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


PROJECT_MARKERS = ("params.yaml", "dvc.yaml")


def project_root(start: Path | None = None) -> Path:
    """The nearest folder upward holding params.yaml or dvc.yaml (else the cwd)."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if any((d / marker).exists() for marker in PROJECT_MARKERS):
            return d
    return here


def relative_to_project(path: str | os.PathLike | None) -> str | None:
    """A path as records keep it: relative to the project when inside it (never this machine's layout)."""
    if path is None:
        return None
    p, root = Path(path), project_root()
    if p.is_absolute() and p.resolve().is_relative_to(root):
        return p.resolve().relative_to(root).as_posix()
    return p.as_posix()


def project_path(path: str | os.PathLike) -> Path:
    """A recorded path back on this machine: as given when it exists or is absolute, else under the project."""
    p = Path(path)
    return p if p.is_absolute() or p.exists() else project_root() / p
