"""The alarms, when the doctor was asked about them: all there, all notifying, none firing."""

from __future__ import annotations

from reconciler.doctor.checks.result import CheckResult, unreadable
from reconciler.doctor.facts import Facts


def alarm_checks(facts: Facts) -> list[CheckResult]:
    alarms = facts.alarms
    assert alarms is not None
    if alarms.error:
        return [
            unreadable(
                "alarms-exist",
                f"could not describe alarms: {alarms.error}",
                "cloudwatch:DescribeAlarms",
            )
        ]
    missing = [name for name in alarms.expected if name not in alarms.states]
    firing = [name for name in alarms.expected if alarms.states.get(name) == "ALARM"]
    results: list[CheckResult] = []
    if missing:
        results.append(
            CheckResult(
                "alarms-exist",
                "fail",
                f"{len(missing)} of {len(alarms.expected)} alarms missing: {', '.join(missing)}",
                "run `reconciler alarms apply` with the same --prefix/--config, "
                "or `cdk deploy MonitoringStack`",
            )
        )
    elif alarms.silent:
        # An alarm that can change state but pages nobody is as good as a missing one.
        results.append(
            CheckResult(
                "alarms-exist",
                "fail",
                f"{len(alarms.silent)} alarm(s) notify nobody (actions disabled or no alarm "
                f"action): {', '.join(alarms.silent)}",
                "run `reconciler alarms apply` with the same --prefix/--config (it restores "
                "the SNS actions), or `aws cloudwatch enable-alarm-actions`",
            )
        )
    else:
        results.append(
            CheckResult("alarms-exist", "pass", f"all {len(alarms.expected)} alarms exist")
        )
    if firing:
        runbooks = ", ".join(alarms.runbooks.get(n, f"{n} (see its description)") for n in firing)
        results.append(
            CheckResult(
                "alarms-not-in-alarm",
                "fail",
                f"in ALARM: {', '.join(firing)}",
                f"follow the runbook: {runbooks}",
            )
        )
    elif missing:
        # Nothing missing can be firing: "no alarm is in ALARM" would be a PASS of nothing.
        results.append(
            CheckResult("alarms-not-in-alarm", "skip", "skipped: alarms-exist did not pass")
        )
    else:
        waiting = sum(1 for n in alarms.expected if alarms.states.get(n) == "INSUFFICIENT_DATA")
        note = f" ({waiting} still waiting for data)" if waiting else ""
        results.append(CheckResult("alarms-not-in-alarm", "pass", f"no alarm is in ALARM{note}"))
    return results
