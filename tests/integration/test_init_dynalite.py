"""``reconciler init`` on dynalite, a local endpoint without TTL or backups: the tables are set
up all the same, and what the endpoint cannot do is reported, not failed on. (dynalite has no
streams either, so a second run finds a registration table without one and says so.)"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import pytest

from reconciler.cli import main
from reconciler.devtools.dynalite import Dynalite

pytestmark = pytest.mark.xdist_group("dynalite")


@pytest.fixture(scope="module")
def dynalite_endpoint() -> Iterator[str]:
    with Dynalite() as server:
        yield server.endpoint


def test_init_on_an_endpoint_without_ttl_or_backups_reports_them_unsupported(
    dynalite_endpoint: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", dynalite_endpoint)
    name = f"registrations-{uuid.uuid4().hex[:8]}"

    code = main(["init", "--table-name", name], dict(os.environ))
    captured = capsys.readouterr()
    summary = json.loads(captured.out)

    assert code == 0
    assert (summary["registration_table"], summary["state_table"]) == ("created", "created")
    assert (summary["ttl"], summary["point_in_time_recovery"]) == ("unsupported",) * 2
    assert "not supported by this endpoint, skipped" in captured.err
