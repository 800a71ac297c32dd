"""Test session: fake AWS credentials, a private MLflow store, shared-corpus and PostgreSQL gates."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

# Shared fixtures for the Bedrock tests (project, aws, bedrock, no_sleep).
pytest_plugins = ("bedrock_support",)

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpora" / "aozora12.jsonl"


def pytest_configure(config):
    # Never let a test reach a real AWS endpoint or a user's MLflow store.
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
        "GIT_PYTHON_REFRESH": "quiet",
    }.items():
        os.environ[key] = value
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("MLFLOW_RUN_ID", None)
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)


@pytest.fixture(scope="session", autouse=True)
def mlflow_store(tmp_path_factory):
    """One sqlite MLflow store for the whole session (creating one costs seconds)."""
    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{path}"
    return os.environ["MLFLOW_TRACKING_URI"]


@pytest.fixture
def corpus_path() -> Path:
    if not CORPUS.exists():
        pytest.skip(f"shared corpus not found at {CORPUS} (it ships beside the repo, not in it)")
    return CORPUS


def _postgres_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """SQLAlchemy URL of the local PostgreSQL `test` database; required when CI=true."""
    if not _postgres_up():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL on 127.0.0.1:5432 is required in CI but is not reachable")
        pytest.skip("PostgreSQL on 127.0.0.1:5432 not reachable")
    user = os.environ.get("PGUSER", "postgres")
    return f"postgresql+psycopg2://{user}@127.0.0.1:5432/test"


@pytest.fixture
def new_database(postgres_url):
    """Call it to get the URL of a new, empty database on the local server (each dropped afterwards)."""
    import uuid

    import sqlalchemy as sa

    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    names: list[str] = []

    def make(prefix: str = "rftlab") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        names.append(name)
        return postgres_url.rsplit("/", 1)[0] + f"/{name}"

    yield make
    with admin.connect() as c:
        for name in names:
            c.execute(sa.text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture
def fresh_database(new_database) -> str:
    """A database of its own on the local server, dropped afterwards."""
    return new_database()


@pytest.fixture
def converse_stub():
    """A botocore Stubber on the project's cached bedrock-runtime client: every request is
    validated against the service model, and responses queued but never used fail the test."""
    from botocore.stub import Stubber

    from rftlab import aws

    aws.reset_clients()
    client = aws.client("bedrock-runtime", "us-east-1")
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()
    aws.reset_clients()
