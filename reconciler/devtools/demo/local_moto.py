"""moto's HTTP server in this process, answering one request at a time.

moto's DynamoDB backend is not safe under concurrent requests, and the hot event's acts make
them (a registration thread, the pump's handler, replay and reconciliation passes at once):
``TransactWriteItems`` deep-copies each table it touches before it starts, which fails when
another request changes the table meanwhile, and restores that copy when the transaction is
cancelled, which would undo whatever other requests wrote in between. DynamoDB itself has
neither problem, so the demo serialises the requests rather than show moto's artefacts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class _OneAtATime:
    """A WSGI application that lets one request at a time into ``app``, body included."""

    def __init__(self, app: WSGIApplication) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        with self._lock:
            result = self._app(environ, start_response)
            try:
                return list(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


@contextmanager
def local_aws() -> Iterator[str]:
    """moto on loopback and a free port, one request at a time; yields its URL."""
    # moto is a development dependency: imported only when the demo runs, so the CLI works
    # in images built without it.
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server  # noqa: PLC0415

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app: Any = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        "127.0.0.1", 0, _OneAtATime(app), threaded=True, request_handler=MotoRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="demo-moto", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        thread.join()
