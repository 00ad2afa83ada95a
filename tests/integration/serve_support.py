"""Helpers for the ``serve`` integration tests: a seeded table and ``reconciler serve`` as a
real subprocess (its own signals, its own exit code) with JSON logs read back from a file."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from reconciler.kernel.aws import Clients

EVENT_SK = "{slug}#2024-10-27#conference"


@dataclass(frozen=True)
class Seeded:
    slugs: tuple[str, ...]
    drifted: tuple[str, ...]
    attendees_per_event: int


def seed(
    clients: Clients, table: str, events: int = 4, attendees: int = 3, drifted: int = 1
) -> Seeded:
    """``events`` events of ``attendees`` attendees each; the first ``drifted`` ones stored
    one too high. Attendee items carry synthetic, non-personal emails."""
    ddb = clients.dynamodb()
    slugs = tuple(f"serve-event-{i}" for i in range(events))
    requests_: list[dict[str, Any]] = []
    for index, slug in enumerate(slugs):
        stored = attendees + (1 if index < drifted else 0)
        requests_.append(
            {
                "PutRequest": {
                    "Item": {
                        "pk": {"S": "EVENT"},
                        "sk": {"S": EVENT_SK.format(slug=slug)},
                        "attendeeCount": {"N": str(stored)},
                        "counterVersion": {"N": "0"},
                    }
                }
            }
        )
        for number in range(attendees):
            requests_.append(
                {
                    "PutRequest": {
                        "Item": {
                            "pk": {"S": f"{slug}#ATTENDEE"},
                            "sk": {"S": f"attendee-{number}@example.invalid"},
                        }
                    }
                }
            )
    for start in range(0, len(requests_), 25):
        ddb.batch_write_item(RequestItems={table: requests_[start : start + 25]})
    return Seeded(slugs, slugs[:drifted], attendees)


def stored_count(clients: Clients, table: str, slug: str) -> int:
    item = clients.dynamodb().get_item(
        TableName=table,
        Key={"pk": {"S": "EVENT"}, "sk": {"S": EVENT_SK.format(slug=slug)}},
        ConsistentRead=True,
    )["Item"]
    return int(item["attendeeCount"]["N"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    predicate: Callable[[], Any], timeout: float, interval: float = 0.1, what: str = ""
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


class ServeProcess:
    """``python -m reconciler serve`` against the moto endpoint, logging JSON to a file."""

    def __init__(
        self,
        endpoint: str,
        table: str,
        args: Sequence[str],
        log_path: Path,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("RECONCILER_") and key != "TABLE_NAME"
        }
        env.update({"AWS_ENDPOINT_URL": endpoint, "TABLE_NAME": table})
        argv = [
            sys.executable,
            "-m",
            "reconciler",
            "serve",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--log-format",
            "json",
            *args,
        ]
        self._log_file = log_path.open("w")
        self.process = subprocess.Popen(
            argv, env=env, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> list[dict[str, Any]]:
        records = []
        for line in self.log_path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

    def events(self, name: str) -> list[dict[str, Any]]:
        return [record for record in self.logs() if record.get("event") == name]

    def wait_ready(self, timeout: float = 15.0) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited early:\n{self.log_path.read_text()}")
            try:
                return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for(ready, timeout, what="serve /healthz")

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._log_file.close()
