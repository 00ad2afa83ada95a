"""The doctor run against a deployed world on moto, shared by the doctor's test modules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.cli import main
from tests.integration.deployed_world import World, build_green_world

PREFIX = "ac"


def green_world(clients: Any, table_name: str, capsys: pytest.CaptureFixture[str]) -> World:
    built = build_green_world(clients, table_name)
    code = main(
        ["alarms", "apply", "--prefix", PREFIX, "--on-failure-queue", built.queue_name], env={}
    )
    assert code == 0
    capsys.readouterr()
    return built


def doctor(
    capsys: pytest.CaptureFixture[str],
    world: World,
    *extra: str,
    env: dict[str, str] | None = None,
) -> tuple[int, dict[str, dict[str, str]]]:
    capsys.readouterr()
    code = main(
        [
            "doctor",
            "--json",
            "--table-name",
            world.table_name,
            "--prefix",
            PREFIX,
            "--on-failure-queue",
            world.queue_name,
            *extra,
        ],
        env=env or {},
    )
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is (code == 0)
    return code, {check["name"]: check for check in document["checks"]}


def statuses(checks: dict[str, dict[str, str]]) -> dict[str, str]:
    return {name: check["status"] for name, check in checks.items()}


def failing(checks: dict[str, dict[str, str]]) -> set[str]:
    return {name for name, status in statuses(checks).items() if status == "fail"}
