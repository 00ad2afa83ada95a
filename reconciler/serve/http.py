"""One small HTTP port for Prometheus, the orchestrator and people: /metrics, /healthz,
/readyz, and the status page on / when one is given.

A stdlib ``ThreadingHTTPServer`` is enough for a handful of scrapes and probes a minute and
keeps the dependency surface at prometheus-client itself. Probes answer JSON so a human
``curl`` and a Kubernetes probe read the same thing; readiness is computed on request from an
injected callable so the server holds no state of its own.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    detail: Mapping[str, Any] = field(default_factory=dict)


ReadinessProbe = Callable[[], Readiness]
StatusPage = Callable[[], str]
"""Renders the whole HTML page on each request (it is small, and people reload it rarely)."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._metrics()
        elif path == "/healthz":
            self._json(200, {"status": "ok"})
        elif path == "/readyz":
            readiness = self.server.readiness()
            body = {"ready": readiness.ready, **readiness.detail}
            self._json(200 if readiness.ready else 503, body)
        elif path == "/" and self.server.status_page is not None:
            page = self.server.status_page().encode()
            self._send(200, "text/html; charset=utf-8", page)
        else:
            paths = ["/metrics", "/healthz", "/readyz"]
            if self.server.status_page is not None:
                paths.insert(0, "/")
            self._json(404, {"error": "not found", "paths": paths})

    def _metrics(self) -> None:
        encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
        payload = encoder(self.server.registry)
        self._send(200, content_type, payload)

    def _json(self, status: int, body: Mapping[str, Any]) -> None:
        self._send(status, "application/json", json.dumps(body, sort_keys=True).encode())

    def _send(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would drown the pass logs; errors still surface."""


class PortUnavailableError(ReconcilerError):
    """The one error a second replica on one host meets: it names the port and its setting."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"cannot listen on {host}:{port}: {reason} (--port / RECONCILER_PORT)")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        registry: CollectorRegistry,
        readiness: ReadinessProbe,
        status_page: StatusPage | None,
    ) -> None:
        super().__init__(address, _Handler)
        self.registry = registry
        self.readiness = readiness
        self.status_page = status_page


class HttpServer:
    """Serves the paths on ``host:port`` (port 0 picks a free one) from a daemon thread.

    The port is bound on construction, so a port in use fails before anything else starts;
    the defaults live in :class:`~reconciler.serve.settings.ServeSettings`.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        readiness: ReadinessProbe,
        *,
        host: str,
        port: int,
        status_page: StatusPage | None = None,
    ) -> None:
        try:
            self._server = _Server((host, port), registry, readiness, status_page)
        except OSError as exc:
            raise PortUnavailableError(host, port, exc.strerror or str(exc)) from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="http", kwargs={"poll_interval": 0.2}
        )
        self._thread.daemon = True

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        self._thread.start()
        log.info("http_listening", host=self.host, port=self.port)

    def stop(self) -> None:
        """Close the port; also after a failed start (``shutdown`` alone would wait forever
        for a serve loop that never ran)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
