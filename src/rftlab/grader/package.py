"""`rftlab grader package`: the Lambda container-image build context for the grader.

Layout of OUT: Dockerfile (AWS's Python Lambda base image on Amazon Linux 2023),
requirements.txt (the handler's dependencies pinned to the versions installed here), rftlab/
(only the source files the handler imports), grader.json (the bundle) and manifest.json
(grader version, deployment version, installed-size estimate measured from this
environment's site-packages, file list with digests). The deployment version in the manifest
is recomputed from the written context, exactly as the Lambda recomputes it at cold start.
Building and pushing the image is the Bedrock backend's job. A zip package is refused when it
would exceed Lambda's 250 MB unzipped limit.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from rftlab.errors import InputError, RftlabError
from rftlab.grader import deployment
from rftlab.grader.bundle import load_grader
from rftlab.grader.deployment import BASE_IMAGE, HANDLER, HANDLER_DISTRIBUTIONS
from rftlab.io import write_json
from rftlab.privacy.audit import require_clean

ZIP_LIMIT_MB = 250.0
TASK_ROOT = "/var/task"

# fugashi ships manylinux2014 x86_64 wheels for cp312 and cp313; unidic-lite is a pure-Python
# sdist (setup.py imports setuptools first, so its `distutils` import resolves to setuptools'
# copy on Python 3.12+, where the stdlib no longer has one).
DOCKERFILE = f"""# rftlab grader: Bedrock RFT reward function (Lambda container image)
FROM {BASE_IMAGE}
COPY requirements.txt {TASK_ROOT}/requirements.txt
RUN pip install --no-cache-dir -r {TASK_ROOT}/requirements.txt --target {TASK_ROOT}
COPY rftlab/ {TASK_ROOT}/rftlab/
COPY grader.json {TASK_ROOT}/grader.json
ENV RFTLAB_GRADER={TASK_ROOT}/grader.json
CMD ["{HANDLER}"]
"""


def distribution_size(name: str) -> tuple[str, int]:
    """(version, installed bytes) of an installed distribution, from its RECORD file list."""
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        raise InputError(f"{name} is not installed here: cannot measure the grader's installed size") from None
    total = 0
    for f in dist.files or []:
        p = Path(str(dist.locate_file(f)))
        if p.is_file():
            total += p.stat().st_size
    return dist.version, total


def _tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def size_estimate(package_dir: Path, bundle_path: Path) -> dict[str, Any]:
    deps = {}
    for name in HANDLER_DISTRIBUTIONS:
        version, size = distribution_size(name)
        deps[name] = {"version": version, "bytes": size}
    own = _tree_size(package_dir) + bundle_path.stat().st_size
    total = own + sum(d["bytes"] for d in deps.values())
    return {"dependencies": deps, "rftlab_and_bundle_bytes": own, "total_bytes": total,
            "total_mb": round(total / 1e6, 1)}


def _copy_sources(dst: Path) -> list[str]:
    """Copy the handler's import closure (not the whole package) into dst/rftlab; returns the paths."""
    src = deployment.package_root()  # looked up at call time: the sources hashed are the sources copied
    rels = deployment.source_files(src)
    for rel in rels:
        target = dst / "rftlab" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, target)
    return rels


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def package(grader_path: str | os.PathLike, out: str | os.PathLike, *, fmt: str = "image") -> dict[str, Any]:
    """Write the build context (fmt=image) into `out`; returns the manifest."""

    if fmt not in ("image", "zip"):
        raise InputError(f"--format must be image or zip, not {fmt!r}")
    grader_path = Path(grader_path)
    grader = load_grader(grader_path)

    require_clean(grader_path, "package it for Lambda")  # the image ships the bundle: no personal data in it
    bundle = deployment.image_bundle(grader_path)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))  # renamed into place at the end
    try:
        sources = _copy_sources(staging)
        write_json(staging / "grader.json", bundle, indent=None)
        sizes = size_estimate(staging / "rftlab", staging / "grader.json")
        if fmt == "zip":
            if sizes["total_mb"] > ZIP_LIMIT_MB:
                biggest = max(sizes["dependencies"].items(), key=lambda kv: kv[1]["bytes"])
                raise RftlabError(
                    f"a zip package would be {sizes['total_mb']:.0f} MB unzipped, over Lambda's "
                    f"{ZIP_LIMIT_MB:.0f} MB limit ({biggest[0]} alone is {biggest[1]['bytes'] / 1e6:.0f} MB); "
                    "use the container image instead: rftlab grader package --format image")
            raise RftlabError("zip packaging is not implemented; use --format image")  # pragma: no cover
        pins = deployment.pinned_requirements()
        (staging / "requirements.txt").write_text(deployment.requirements_text(pins), encoding="utf-8")
        (staging / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
        for p in staging.rglob("*"):  # the Lambda runtime user is not the builder: world-readable
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        os.chmod(staging, 0o755)
        files = sorted(p for p in staging.rglob("*") if p.is_file())
        manifest = {
            "grader_version": grader.version,
            "deployment_version": deployment.context_deployment_version(staging),
            "format": "image",
            "base_image": BASE_IMAGE,
            "handler": HANDLER,
            "bundle": "grader.json",
            "requirements": pins,
            "sources": [f"rftlab/{rel}" for rel in sources],
            "installed_size": sizes,
            "files": [{"path": p.relative_to(staging).as_posix(), "bytes": p.stat().st_size,
                       "sha256": _sha256(p)} for p in files],
        }
        write_json(staging / "manifest.json", manifest)
        os.chmod(staging / "manifest.json", 0o644)
        if out.is_dir():
            shutil.rmtree(out)
        elif out.exists():
            out.unlink()
        os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return manifest
