"""structlog set-up shared by every entry point.

JSON lines in production (CloudWatch Logs, containers), a readable console on a TTY; the
stdlib loggers of boto3, botocore and APScheduler go through the same renderer so one log
stream has one format.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from reconciler.kernel.settings import LogFormat

# Keys that could carry personal data if a caller ever passed an item through by mistake.
# Dropping them here is a second line of defence; the first is never logging items at all.
_PERSONAL_KEYS = frozenset(
    {"email", "phone", "firstname", "lastname", "first_name", "last_name", "name", "item", "image"}
)


def _drop_personal_data(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in [k for k in event_dict if k.lower() in _PERSONAL_KEYS]:
        event_dict[key] = "[redacted]"
    return event_dict


def configure_logging(
    fmt: LogFormat = "auto", level: str = "info", stream: TextIO | None = None
) -> None:
    """Configure structlog and the stdlib root logger; safe to call more than once."""
    out = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_personal_data,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The AWS SDK's debug output holds request bodies (attendee items: personal data) and
    # signed headers (session tokens): it stays at WARNING whatever our own level is.
    for name in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(name).setLevel(logging.WARNING)
    chatty = logging.DEBUG if level.lower() == "debug" else logging.WARNING
    for name in ("apscheduler", "werkzeug"):
        logging.getLogger(name).setLevel(chatty)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
