"""Shared fixtures: a real moto server over HTTP, and clients pointed at it.

Tests of AWS code talk to moto through boto3's standard ``AWS_ENDPOINT_URL`` path, exactly as
the service talks to AWS; nothing here patches boto3.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator

import pytest
import requests

# Dummy credentials for every test: nothing may ever reach a real AWS account.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_EMF_ENVIRONMENT": "Local",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)


_NAMED_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer", "apscheduler", "werkzeug")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """A test that runs ``configure_logging`` points the root logger at the stream pytest
    captured for that test; left in place, threads that outlive the test (a moto server, a
    lease keeper) would write to a closed stream. Each test gets the logging it started with."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in _NAMED_LOGGERS}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, named_level in levels.items():
        logging.getLogger(name).setLevel(named_level)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server per test process, on loopback, on a free port."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A wiped moto server; ``AWS_ENDPOINT_URL`` points boto3 at it for the test's duration."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return moto_endpoint


@pytest.fixture
def clients(aws: str):  # type: ignore[no-untyped-def]
    from reconciler.kernel.aws import Clients, client_config

    return Clients(config=client_config(max_attempts=3, connect_timeout=2), endpoint_url=aws)


@pytest.fixture
def table_name(clients) -> str:  # type: ignore[no-untyped-def]
    """A fresh table with its stream and its state table (the handler's ledger), shaped as the
    StatefulStack deploys them."""
    from reconciler.devtools.local_table import create_state_table, create_table
    from reconciler.kernel.ledger import default_state_table

    name = f"registrations-{uuid.uuid4().hex[:8]}"
    create_table(clients.dynamodb(), name)
    create_state_table(clients.dynamodb(), default_state_table(name))
    return name


@pytest.fixture(scope="session")
def spark():  # type: ignore[no-untyped-def]
    """One local Spark session (two cores) for every Spark test of a worker: a JVM starts in
    seconds, a job then takes about one. Tests that use it join ``xdist_group("spark")``, so
    one worker starts it once; ``--engine spark`` runs its job in this session when it finds
    one running."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("reconciler-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        # Tiny jobs: the JIT's first tier and a serial collector warm up in half the time.
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
