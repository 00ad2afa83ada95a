"""A check whose prerequisite did not pass is skipped, so one cause reads as one failure."""

from __future__ import annotations

from dataclasses import replace

from reconciler.doctor.checks import PREREQUISITES, evaluate, failed
from reconciler.doctor.facts import AlarmFacts, FunctionFacts, TableFacts
from tests.unit.test_doctor_checks import EXPECTED, GREEN, TABLE, results


def test_a_missing_table_is_one_failure_and_its_dependents_are_skipped() -> None:
    checks = results(replace(GREEN, table=TableFacts(name=TABLE, exists=False)))

    assert checks["table-exists"].status == "fail"
    for name in ("stream-enabled", "mapping-exists", "mapping-settings", "on-failure-queue"):
        assert checks[name].status == "skip", name
    assert checks["stream-enabled"].detail == "skipped: table-exists did not pass"
    assert checks["handler-exists"].status == "pass"


def test_a_missing_function_skips_what_only_a_function_has() -> None:
    function = FunctionFacts(name="updateAttendeeCounter", exists=False)
    checks = results(replace(GREEN, function=function, mappings=()))

    assert checks["handler-exists"].status == "fail"
    assert {checks[n].status for n in ("handler-role-permissions", "handler-log-group")} == {"skip"}
    assert checks["stream-enabled"].status == "pass"


def test_a_skip_never_turns_the_verdict_green_on_its_own() -> None:
    checks = evaluate(replace(GREEN, table=TableFacts(name=TABLE, exists=False)), EXPECTED)
    assert failed(checks)


def test_missing_alarms_never_pass_the_not_in_alarm_check() -> None:
    alarms = AlarmFacts(expected=("a-errors", "a-age"), states={})
    checks = results(replace(GREEN, alarms=alarms))

    assert checks["alarms-exist"].status == "fail"
    assert checks["alarms-not-in-alarm"].status == "skip"


def test_every_prerequisite_is_a_check_that_runs_before_its_dependent() -> None:
    order = [result.name for result in evaluate(GREEN, EXPECTED)]
    for check, prerequisites in PREREQUISITES.items():
        for prerequisite in prerequisites:
            assert order.index(prerequisite) < order.index(check), (prerequisite, check)
