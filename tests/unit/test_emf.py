from __future__ import annotations

import io
import json

import pytest

from reconciler.handler.emf import EmfWriter, render


def test_writer_emits_one_json_line_cloudwatch_can_extract() -> None:
    out = io.StringIO()
    writer = EmfWriter(out, "AttendeeCounter/Handler", "updateAttendeeCounter", clock=lambda: 1.5)
    writer.write({"RecordsInsert": 3, "ClampedAtZero": 0})
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    document = json.loads(lines[0])
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert document["_aws"]["Timestamp"] == 1500
    assert directive["Namespace"] == "AttendeeCounter/Handler"
    assert directive["Dimensions"] == [["FunctionName"]]
    assert directive["Metrics"] == [
        {"Name": "RecordsInsert", "Unit": "Count"},
        {"Name": "ClampedAtZero", "Unit": "Count"},
    ]
    # Every metric and the dimension are top-level members, as EMF requires.
    assert document["FunctionName"] == "updateAttendeeCounter"
    assert (document["RecordsInsert"], document["ClampedAtZero"]) == (3, 0)


def test_namespace_is_configurable() -> None:
    document = render("Custom/Space", "fn", {"X": 1}, 0)
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Custom/Space"


def test_the_only_dimension_is_the_function_name() -> None:
    document = render("N", "fn", {"A": 1, "B": 2}, 0)
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["FunctionName"]]
    assert set(document) == {"_aws", "FunctionName", "A", "B"}


def test_each_write_is_a_separate_line() -> None:
    out = io.StringIO()
    writer = EmfWriter(out, "N", "fn", clock=lambda: 0.0)
    writer.write({"A": 1})
    writer.write({"A": 2})
    assert [json.loads(line)["A"] for line in out.getvalue().splitlines()] == [1, 2]


@pytest.mark.parametrize(
    ("namespace", "values", "message"),
    [
        ("", {"A": 1}, "namespace"),
        ("N", {f"M{i}": i for i in range(101)}, "at most 100"),
        ("N", {"FunctionName": 1}, "reserved"),
        ("N", {"_aws": 1}, "reserved"),
    ],
)
def test_documents_cloudwatch_would_reject_are_refused(
    namespace: str, values: dict[str, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        render(namespace, "fn", values, 0)
