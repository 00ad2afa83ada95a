"""ServeApp's lifecycle: what a replica frees on shutdown, and when it must not."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from reconciler.serve.app import ServeApp
from reconciler.serve.lease import LeaderLease
from reconciler.serve.lease_store import LeaseRecord
from reconciler.serve.metrics import ReconcilerMetrics
from reconciler.serve.scheduler import Schedule
from reconciler.serve.settings import ServeSettings
from tests.fakes.serve import FakePassRunner, InMemoryLeaseStore


class Closer:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


def settings(**overrides: object) -> ServeSettings:
    values: dict[str, object] = {
        "schedule": Schedule(every=3600.0),
        "host": "127.0.0.1",
        "port": 0,
        "lease": None,
    }
    values.update(overrides)
    return ServeSettings(**values)  # type: ignore[arg-type]


def app_for(runner: FakePassRunner, closer: Closer, **overrides: object) -> ServeApp:
    return ServeApp(
        runner, ReconcilerMetrics(CollectorRegistry()), settings(**overrides), on_close=closer
    )


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def closer() -> Closer:
    return Closer()


def test_a_clean_shutdown_closes_the_pass_resources_exactly_once(closer):
    app = app_for(FakePassRunner(), closer)
    app.start()
    assert app.shutdown() is True
    assert app.shutdown() is True
    assert closer.calls == 1


@pytest.fixture
def blocked_pass() -> Iterator[threading.Event]:
    release = threading.Event()
    yield release
    release.set()


def test_the_resources_stay_open_while_a_pass_outlives_the_shutdown_timeout(closer, blocked_pass):
    # GIVEN a pass stuck inside an event
    inside = threading.Event()

    def stuck(_index: int) -> None:
        inside.set()
        blocked_pass.wait(10)

    runner = FakePassRunner(on_event=stuck)
    app = app_for(
        runner, closer, schedule=Schedule(every=3600.0, run_at_start=True), shutdown_timeout=0.2
    )
    app.start()
    assert inside.wait(10)
    # WHEN the replica shuts down before the pass is done
    finished = app.shutdown()
    # THEN it reports the timeout and leaves the audit file and hooks to the pass
    assert finished is False
    assert closer.calls == 0
    blocked_pass.set()
    assert app.job.wait_idle(10)


def test_a_replica_that_never_started_frees_its_port_and_resources_on_shutdown(closer):
    app = app_for(FakePassRunner(), closer)
    port = app.http.port
    assert app.shutdown() is True
    assert closer.calls == 1
    assert port_is_free(port)


class UnreachableStore(InMemoryLeaseStore):
    """Fails with an error the lease does not expect, as a bug in an adapter would."""

    def read(self) -> LeaseRecord | None:
        raise OSError("network is unreachable")


def test_a_start_that_fails_halfway_shuts_down_what_had_started(closer):
    # GIVEN a replica whose first lease attempt fails after the port was opened
    app = ServeApp(
        FakePassRunner(),
        ReconcilerMetrics(CollectorRegistry()),
        settings(),
        lease=LeaderLease(UnreachableStore(), "a", 10.0, 2.0),
        on_close=closer,
    )
    port = app.http.port
    # WHEN it starts
    with pytest.raises(OSError, match="unreachable"):
        app.start()
    # THEN the port is closed, the resources are freed, and nothing is scheduled
    assert port_is_free(port)
    assert closer.calls == 1
    assert not app.scheduler.running
    assert app.shutdown() is True
