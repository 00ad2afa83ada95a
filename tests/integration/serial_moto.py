"""A moto that answers one request at a time, for tests that send concurrent transactions.

moto's ``TransactWriteItems`` restores a whole table copy when a transaction is cancelled,
undoing whatever other requests wrote meanwhile; DynamoDB has no such artefact. Tests whose
lanes, traffic threads or backfill write concurrently use this server (the demo's, sharing the
process's moto state): their requests still interleave freely between each other.

Use it by importing the fixture into the test module: ``from tests.integration.serial_moto
import aws``; it replaces the conftest's ``aws`` there, and ``clients`` follows it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from reconciler.devtools.demo.local_moto import local_aws


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    with local_aws() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        yield endpoint
