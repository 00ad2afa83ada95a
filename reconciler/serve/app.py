"""The running worker: HTTP port, lease keeper, lag gate and scheduler wired around a pass.

Start-up order matters: the lease gets one synchronous attempt before the scheduler starts
(so ``--run-at-start`` on a free lease runs at once), and the HTTP port opens before the first
pass so probes and scrapes work while it runs. Shutdown runs in reverse: stop scheduling, let
the pass in progress finish its current event, release the lease, close the port, and only
then close the pass's resources (audit file, client hooks), which a pass still running needs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import prometheus_client
from prometheus_client import CollectorRegistry

from reconciler import __version__
from reconciler.handler.entry import HandlerSettings
from reconciler.kernel.logs import get_logger
from reconciler.reconcile.bootstrap import build_reconciler
from reconciler.reconcile.settings import RunSettings
from reconciler.serve.http import HttpServer, Readiness
from reconciler.serve.job import LagCheck, PassJob, PassRunner
from reconciler.serve.lag_gate import CloudWatchIteratorAge, LagGate
from reconciler.serve.lease import LeaderLease
from reconciler.serve.lease_keeper import LeaseKeeper, default_owner_id
from reconciler.serve.lease_store import DynamoLeaseStore
from reconciler.serve.metrics import ReconcilerMetrics
from reconciler.serve.replay import replaying
from reconciler.serve.scheduler import PassScheduler
from reconciler.serve.settings import LeaseSettings, ServeSettings
from reconciler.serve.status_page import render_status

if TYPE_CHECKING:
    from reconciler.kernel.aws import Clients
    from reconciler.kernel.settings import TableSettings

log = get_logger(__name__)


def build_lease(
    clients: Clients,
    table: TableSettings,
    settings: LeaseSettings,
    metrics: ReconcilerMetrics,
) -> LeaderLease:
    def on_transition(transition: str) -> None:
        metrics.observe_lease_transition(transition)
        metrics.set_leader(transition == "acquired")
        if transition == "lost":
            metrics.clear_pass_gauges()

    store = DynamoLeaseStore(clients.dynamodb(), table.table_name, table.model, settings.name)
    return LeaderLease(
        store,
        settings.owner or default_owner_id(),
        settings.duration_seconds,
        settings.heartbeat_seconds,
        on_transition=on_transition,
        on_error=metrics.observe_lease_error,
    )


class ServeApp:
    """One replica of ``reconciler serve``: :meth:`start`, :meth:`wait`, :meth:`shutdown`."""

    def __init__(
        self,
        runner: PassRunner,
        metrics: ReconcilerMetrics,
        settings: ServeSettings,
        *,
        lease: LeaderLease | None = None,
        lag_gate: LagCheck | None = None,
        clock: Callable[[], float] = time.time,
        on_close: Callable[[], None] = lambda: None,
    ) -> None:
        self.metrics = metrics
        self.settings = settings
        self._clock = clock
        self._on_close = on_close
        self._stop = threading.Event()
        self.job = PassJob(
            runner, metrics, stop=self._stop, leadership=lease, lag_gate=lag_gate, clock=clock
        )
        self.scheduler = PassScheduler(self.job, settings.schedule, metrics)
        self._keeper = LeaseKeeper(lease) if lease is not None else None
        self.http = HttpServer(
            metrics.registry,
            self.readiness,
            host=settings.host,
            port=settings.port,
            status_page=self.status_page,
        )
        self._started = False
        self._finished: bool | None = None
        """Set by the first :meth:`shutdown`: whether the pass finished in time."""

    @property
    def metrics_url(self) -> str:
        return f"{self.http.url}/metrics"

    def readiness(self) -> Readiness:
        failures = self.job.consecutive_failures
        running = self.scheduler.running and not self._stop.is_set()
        ready = running and failures <= self.settings.max_consecutive_failures
        return Readiness(
            ready,
            {
                "scheduler_running": running,
                "consecutive_failures": failures,
                "max_consecutive_failures": self.settings.max_consecutive_failures,
                "leader": self._keeper is None or self._keeper.lease.is_held(),
                "pass_in_progress": self.job.running,
            },
        )

    def status_page(self) -> str:
        snapshot = self.job.history.snapshot(
            now=self._clock(),
            version=__version__,
            lease=self._keeper.lease if self._keeper is not None else None,
            pass_in_progress=self.job.running,
        )
        return render_status(snapshot)

    def start(self) -> None:
        """Open the port, try the lease once, start scheduling.

        If any step fails, whatever did start is shut down again before the error propagates,
        so a caller that cannot start has nothing left to clean up.
        """
        self._started = True
        try:
            self.metrics.set_started(self._clock(), self.scheduler.interval_seconds)
            self.http.start()
            if self._keeper is None:
                self.metrics.set_leader(True)
            else:
                self._keeper.start()
            self.scheduler.start()
        except BaseException:
            self.shutdown()
            raise
        log.info("serve_started", metrics_url=self.metrics_url)

    def request_stop(self) -> None:
        """Safe from a signal handler: only sets an event."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a stop is requested (True) or the timeout passes (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._stop.is_set():
            remaining = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
            if remaining <= 0:
                return False
            self._stop.wait(remaining)
        return True

    def shutdown(self) -> bool:
        """Stop scheduling, let the current pass finish, release the lease, close the port.

        Returns False when the pass did not finish within the shutdown timeout; its resources
        are then left open for it (the process is about to exit anyway). Calling it again
        returns the first answer.
        """
        self._stop.set()
        if self._finished is not None:
            return self._finished
        finished = self._stop_components() if self._started else True
        self.http.stop()
        self._finished = finished
        if finished:
            self._on_close()
        if self._started:
            if finished:
                log.info("shutdown_complete")
            else:
                log.error("shutdown_timed_out", timeout_seconds=self.settings.shutdown_timeout)
        return finished

    def _stop_components(self) -> bool:
        # One deadline for every step: the orchestrator's SIGKILL does not wait for the lease.
        deadline = time.monotonic() + self.settings.shutdown_timeout
        self.scheduler.stop()
        log.info("shutdown_started", pass_in_progress=self.job.running)
        finished = self.job.wait_idle(self.settings.shutdown_timeout)
        if self._keeper is not None:
            # never release while a pass might still write: let the lease expire instead
            self._keeper.stop(release=finished, timeout=max(deadline - time.monotonic(), 0.0))
        return finished


def build_app(
    run: RunSettings,
    settings: ServeSettings,
    clients: Clients,
    registry: CollectorRegistry,
) -> ServeApp:
    """The composition root shared by ``reconciler serve`` and the demo's embedded loop.

    The app owns the reconciler's resources from here on: :meth:`ServeApp.shutdown` closes
    them. If building fails (the port is taken, say), they are closed before the error
    propagates.
    """
    # a _created series beside every counter is noise to Prometheus, which tracks resets itself
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
    metrics = ReconcilerMetrics(registry, version=__version__)
    reconciler = build_reconciler(run, clients)
    try:
        lease = None
        if settings.lease is not None:
            lease = build_lease(clients, run.table, settings.lease, metrics)
        lag_gate = None
        if settings.handler_function_name:
            reader = CloudWatchIteratorAge(clients.cloudwatch())
            lag_gate = LagGate(reader, settings.handler_function_name, run.settle_seconds)
        runner: PassRunner = reconciler
        if settings.on_failure_queue_url:
            handler = HandlerSettings(run.table)
            runner = replaying(
                reconciler,
                settings.on_failure_queue_url,
                handler,
                clients,
                registry,
                cloudwatch_namespace=run.cloudwatch_namespace,
            )
        return ServeApp(
            runner,
            metrics,
            settings,
            lease=lease,
            lag_gate=lag_gate,
            on_close=reconciler.close,
        )
    except BaseException:
        reconciler.close()
        raise
