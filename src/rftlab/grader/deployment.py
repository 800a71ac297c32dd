"""Deployment version: one content hash over everything the grader's Lambda image holds.

The bundle's own `version` hashes only profile + weights, so a change to the scoring code
would otherwise reuse an image and a published Lambda version that still run the old code.
The deployment version ("d-" + 12 hex digits) hashes:

- the bundle as written into the image (canonical JSON of grader.json),
- every rftlab source file the image carries: the static import closure of the handler
  (imports inside functions included), with each package's __init__.py,
- the pinned dependency versions written to the image's requirements.txt,
- the base image.

It is computed without Docker on the host (`deployment_version(grader_path)`) and again
inside the Lambda from what the image holds (`context_deployment_version(task_root)`), so the
handler can refuse to score when the function's `RFTLAB_GRADER_VERSION` names another build.
Stdlib only at import time: the Lambda imports this module at cold start.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Lambda's Python 3.13 base image runs on Amazon Linux 2023; the 3.11 image ran on Amazon Linux 2,
# deprecated on 2026-06-30. Supported runtimes, OS and deprecation dates (python3.13: AL2023,
# 2029-06-30): https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html and
# https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html; base-image tags:
# https://docs.aws.amazon.com/lambda/latest/dg/python-image.html
BASE_IMAGE = "public.ecr.aws/lambda/python:3.13"
HANDLER = "rftlab.grader.handler.lambda_handler"
ENTRY_MODULES = ("rftlab.grader.handler", "rftlab.grader.deployment")
HANDLER_DISTRIBUTIONS = ("fugashi", "unidic-lite")  # numpy, pandas, mlflow stay off the Lambda path
ENV_VERSION = "RFTLAB_GRADER_VERSION"  # set on the function by the deploy step
# Lambda sets LAMBDA_TASK_ROOT to the function code's path (/var/task in AWS base images):
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
TASK_ROOT_ENV = "LAMBDA_TASK_ROOT"
PREFIX = "d-"


class DeploymentMismatch(RuntimeError):
    """The image does not hold the build that the function's RFTLAB_GRADER_VERSION names."""


def package_root() -> Path:
    """The rftlab package folder this code runs from (src/rftlab here, /var/task/rftlab in the image)."""
    return Path(__file__).resolve().parents[1]


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _module_file(root: Path, module: str) -> str | None:
    """Package-relative path of an rftlab module (`rftlab.grader.handler` -> `grader/handler.py`), if it exists."""
    parts = module.split(".")[1:]
    if not parts:
        return "__init__.py"
    for rel in ("/".join(parts) + ".py", "/".join([*parts, "__init__.py"])):
        if (root / rel).is_file():
            return rel
    return None


def _imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """rftlab modules named by any import in the tree (`from rftlab.x import y` names both x and x.y)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                pkg = module.split(".") if is_package else module.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join([*pkg, base] if base else pkg)
            names = [base, *(f"{base}.{a.name}" for a in node.names)]
        else:
            continue
        found.update(n for n in names if n == "rftlab" or n.startswith("rftlab."))
    return found


def source_files(root: Path | None = None) -> list[str]:
    """Package-relative paths of the rftlab files the image needs: the handler's import closure."""
    root = Path(root) if root is not None else package_root()
    files: set[str] = set()
    seen: set[str] = set()
    todo = list(ENTRY_MODULES)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        rel = _module_file(root, module)
        if rel is None:
            if module in ENTRY_MODULES:
                raise FileNotFoundError(f"{root}: {module} not found (not an rftlab package folder?)")
            continue  # `from rftlab.grader.scoring import GUARDS` names no module rftlab.grader.scoring.GUARDS
        files.add(rel)
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages' __init__.py
        tree = ast.parse((root / rel).read_text(encoding="utf-8"), filename=str(root / rel))
        todo.extend(_imported(tree, module, rel.endswith("__init__.py")))
    return sorted(files)


def source_digests(root: Path | None = None) -> dict[str, str]:
    """{package-relative path: sha256} of the image's rftlab files."""
    root = Path(root) if root is not None else package_root()
    return {rel: hashlib.sha256((root / rel).read_bytes()).hexdigest() for rel in source_files(root)}


def pinned_requirements() -> dict[str, str]:
    """{distribution: version} of the handler's dependencies as installed here (what requirements.txt pins)."""
    # deferred: stdlib only at import time, the Lambda imports this module at every cold start
    import importlib.metadata as md

    from rftlab.errors import InputError

    pins = {}
    for name in HANDLER_DISTRIBUTIONS:
        try:
            pins[name] = md.version(name)
        except md.PackageNotFoundError:
            raise InputError(f"{name} is not installed here: cannot pin the grader image's requirements") from None
    return pins


def requirements_text(pins: Mapping[str, str]) -> str:
    return "".join(f"{name}=={version}\n" for name, version in pins.items())


def parse_requirements(text: str) -> dict[str, str]:
    """`name==version` lines back to {name: version} (the only form requirements_text writes)."""
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            if not sep:
                raise ValueError(f"requirements.txt: {line!r} is not pinned with ==")
            pins[name.strip()] = version.strip()
    return pins


def image_bundle(grader_path: str | os.PathLike) -> dict[str, Any]:
    """The bundle as it goes into the image: a bundle file as it is, a bare profile made into a bundle."""
    # deferred: stdlib only at import time, the Lambda imports this module at every cold start
    from rftlab.grader.bundle import load_grader
    from rftlab.io import read_json

    grader = load_grader(grader_path)  # validates (a hand-edited bundle fails here, naming the file)
    obj = read_json(grader_path)
    if isinstance(obj, dict) and "profile" in obj and "weights" in obj:
        return obj
    from rftlab.grader.bundle import (
        make_bundle,  # deferred: stdlib only at import time (cold start)
    )

    return make_bundle(grader.profile, grader.weights, grader.meta)


def _digest(bundle: Any, sources: Mapping[str, str], pins: Mapping[str, str], base_image: str) -> str:
    doc = {"schema": 1, "bundle": hashlib.sha256(_canonical(bundle)).hexdigest(), "sources": dict(sources),
           "requirements": dict(pins), "base_image": base_image}
    return PREFIX + hashlib.sha256(_canonical(doc)).hexdigest()[:12]


def deployment_version(grader_path: str | os.PathLike) -> str:
    """The deployment version of this bundle with this checkout's code and installed pins (no Docker)."""
    return _digest(image_bundle(grader_path), source_digests(), pinned_requirements(), BASE_IMAGE)


def context_deployment_version(root: str | os.PathLike, *, bundle: str | os.PathLike | None = None,
                               package: str | os.PathLike | None = None) -> str:
    """The same hash from a build context or the image's task root: grader.json, requirements.txt, rftlab/."""
    root = Path(root)
    bundle_obj = json.loads(Path(bundle or root / "grader.json").read_text(encoding="utf-8"))
    pins = parse_requirements((root / "requirements.txt").read_text(encoding="utf-8"))
    return _digest(bundle_obj, source_digests(Path(package or root / "rftlab")), pins, BASE_IMAGE)


def _event(log: logging.Logger, level: int, event: str, **fields: Any) -> None:
    log.log(level, json.dumps({"event": event, **fields}, ensure_ascii=False))


def verify_image(bundle: str | os.PathLike, log: logging.Logger) -> str | None:
    """Cold-start check: recompute the deployment version from the image and compare it with the function's.

    Returns the verified version, None when RFTLAB_GRADER_VERSION is unset (a local run or a
    hand-made function: logged, not refused); raises DeploymentMismatch (after logging it) otherwise.
    """
    expected = os.environ.get(ENV_VERSION)
    if not expected:
        _event(log, logging.WARNING, "grader_deployment_unverified",
               message=f"{ENV_VERSION} is not set: cannot check that this image holds the deployed grader")
        return None
    root = Path(os.environ.get(TASK_ROOT_ENV) or Path(bundle).parent)
    try:
        found = context_deployment_version(root, bundle=bundle, package=package_root())
    except (OSError, ValueError) as exc:
        found = f"unreadable ({type(exc).__name__}: {exc})"
    if found != expected:
        message = (f"grader image mismatch: the function's {ENV_VERSION} is {expected} but this image holds "
                   f"{found}; refusing to score (redeploy the grader: rftlab bedrock deploy-grader)")
        _event(log, logging.ERROR, "grader_deployment_mismatch", expected=expected, found=found, message=message)
        raise DeploymentMismatch(message)
    _event(log, logging.INFO, "grader_deployment_verified", deployment_version=found)
    return found
