from __future__ import annotations

import copy
from typing import Any

import pytest

from reconciler.handler.ledger import CounterRead, counter_change
from reconciler.handler.records import (
    AttendeeChange,
    ChangeKind,
    Ignored,
    Malformed,
    MalformedReason,
    SlugBatch,
    earliest,
    group_by_slug,
    parse_event,
    parse_record,
)
from reconciler.kernel.ledger import item_hash
from reconciler.kernel.model import TableModel, pad_sequence
from tests.fakes.handler import insert, modify, record, remove

MODEL = TableModel()
SEQ = "100000000000000000001"


def change(slug: str, kind: ChangeKind, seq: int) -> AttendeeChange:
    raw = str(seq)
    return AttendeeChange(slug, kind, pad_sequence(raw), raw)


@pytest.mark.parametrize(
    ("builder", "kind", "delta"),
    [
        (insert, ChangeKind.INSERT, 1),
        (remove, ChangeKind.REMOVE, -1),
        (modify, ChangeKind.MODIFY, 0),
    ],
)
def test_attendee_records_become_changes_of_their_event(builder, kind, delta):  # type: ignore[no-untyped-def]
    parsed = parse_record(builder("tech-summit-2024", "ada@example.com", SEQ), MODEL)
    assert parsed == AttendeeChange(
        "tech-summit-2024",
        kind,
        pad_sequence(SEQ),
        SEQ,
        item=item_hash("tech-summit-2024#ATTENDEE", "ada@example.com"),
        label="2024",
    )
    assert isinstance(parsed, AttendeeChange)
    assert parsed.delta == delta


@pytest.mark.parametrize(
    ("pk", "sk"),
    [
        ("EVENT", "tech-summit-2024#2024-10-27#conference"),
        ("FAD", "workshop#2024-11-15#workshop"),
        ("_RECONCILER", "lock"),
        ("SOMETHING", "else"),
        ("#ATTENDEE", "ada@example.com"),
    ],
)
def test_items_that_are_not_attendees_are_ignored(pk: str, sk: str) -> None:
    assert parse_record(record("MODIFY", pk, sk, SEQ), MODEL) == Ignored(ChangeKind.MODIFY)


def test_lock_item_of_a_custom_model_is_ignored_too() -> None:
    model = TableModel(lock_partition="_LOCK", attendee_suffix="#A")
    assert isinstance(parse_record(record("INSERT", "_LOCK", "leader", SEQ), model), Ignored)


def _without(path: tuple[str, ...]) -> dict[str, Any]:
    data = insert("tech", "ada@example.com", SEQ)
    target = data
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return data


def _with(path: tuple[str, ...], value: object) -> dict[str, Any]:
    data = copy.deepcopy(insert("tech", "ada@example.com", SEQ))
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return data


MALFORMED_CORPUS: list[tuple[str, object, MalformedReason]] = [
    ("a string", "INSERT", MalformedReason.NOT_A_MAPPING),
    ("none", None, MalformedReason.NOT_A_MAPPING),
    ("a list", [1, 2], MalformedReason.NOT_A_MAPPING),
    ("no dynamodb", _without(("dynamodb",)), MalformedReason.MISSING_DYNAMODB),
    ("dynamodb a list", _with(("dynamodb",), []), MalformedReason.MISSING_DYNAMODB),
    (
        "no sequence",
        _without(("dynamodb", "SequenceNumber")),
        MalformedReason.MISSING_SEQUENCE_NUMBER,
    ),
    (
        "numeric sequence",
        _with(("dynamodb", "SequenceNumber"), 12),
        MalformedReason.INVALID_SEQUENCE_NUMBER,
    ),
    (
        "letters in sequence",
        _with(("dynamodb", "SequenceNumber"), "12a"),
        MalformedReason.INVALID_SEQUENCE_NUMBER,
    ),
    (
        "sequence too long",
        _with(("dynamodb", "SequenceNumber"), "1" * 41),
        MalformedReason.INVALID_SEQUENCE_NUMBER,
    ),
    (
        "sequence with a trailing newline",
        _with(("dynamodb", "SequenceNumber"), SEQ + "\n"),
        MalformedReason.INVALID_SEQUENCE_NUMBER,
    ),
    (
        "empty sequence",
        _with(("dynamodb", "SequenceNumber"), ""),
        MalformedReason.INVALID_SEQUENCE_NUMBER,
    ),
    ("unknown event name", _with(("eventName",), "UPSERT"), MalformedReason.UNKNOWN_EVENT_NAME),
    ("no event name", _without(("eventName",)), MalformedReason.UNKNOWN_EVENT_NAME),
    ("no keys", _without(("dynamodb", "Keys")), MalformedReason.MISSING_KEYS),
    ("keys a string", _with(("dynamodb", "Keys"), "pk"), MalformedReason.MISSING_KEYS),
    ("no sort key", _without(("dynamodb", "Keys", "sk")), MalformedReason.MISSING_KEYS),
    ("numeric pk", _with(("dynamodb", "Keys", "pk"), {"N": "5"}), MalformedReason.INVALID_KEYS),
    (
        "bare string pk",
        _with(("dynamodb", "Keys", "pk"), "tech#ATTENDEE"),
        MalformedReason.INVALID_KEYS,
    ),
    (
        "pk value not text",
        _with(("dynamodb", "Keys", "pk"), {"S": 5}),
        MalformedReason.INVALID_KEYS,
    ),
    (
        "two types in pk",
        _with(("dynamodb", "Keys", "pk"), {"S": "tech#ATTENDEE", "N": "1"}),
        MalformedReason.INVALID_KEYS,
    ),
    ("no new image", _without(("dynamodb", "NewImage")), MalformedReason.MISSING_NEW_IMAGE),
    ("new image a list", _with(("dynamodb", "NewImage"), []), MalformedReason.INVALID_IMAGE),
    (
        "keys only stream",
        record("REMOVE", "tech#ATTENDEE", "ada@example.com", SEQ, view_type="KEYS_ONLY"),
        MalformedReason.MISSING_OLD_IMAGE,
    ),
    (
        "new image stream, modify",
        record("MODIFY", "tech#ATTENDEE", "ada@example.com", SEQ, view_type="NEW_IMAGE"),
        MalformedReason.MISSING_OLD_IMAGE,
    ),
    (
        "old image stream, insert",
        record("INSERT", "tech#ATTENDEE", "ada@example.com", SEQ, view_type="OLD_IMAGE"),
        MalformedReason.MISSING_NEW_IMAGE,
    ),
]


@pytest.mark.parametrize(
    ("record_", "reason"),
    [(case[1], case[2]) for case in MALFORMED_CORPUS],
    ids=[case[0] for case in MALFORMED_CORPUS],
)
def test_malformed_records_are_reported_with_a_fixed_reason(
    record_: object, reason: MalformedReason
) -> None:
    parsed = parse_record(record_, MODEL)
    assert isinstance(parsed, Malformed)
    assert parsed.reason is reason


def test_malformed_record_keeps_its_sequence_number_once_it_is_known() -> None:
    parsed = parse_record(_with(("eventName",), "UPSERT"), MODEL)
    assert parsed == Malformed(MalformedReason.UNKNOWN_EVENT_NAME, SEQ)


def test_keys_only_record_of_a_non_attendee_is_ignored_not_malformed() -> None:
    parsed = parse_record(
        record("REMOVE", "EVENT", "tech#2024#x", SEQ, view_type="KEYS_ONLY"), MODEL
    )
    assert parsed == Ignored(ChangeKind.REMOVE)


@pytest.mark.parametrize("event", [None, "x", [], {}, {"Records": "nope"}, {"Records": None}])
def test_an_event_without_a_records_list_is_malformed(event: object) -> None:
    assert parse_event(event) == Malformed(MalformedReason.INVALID_EVENT)


def test_an_event_with_records_yields_them() -> None:
    assert parse_event({"Records": [1, 2]}) == [1, 2]


def test_changes_are_grouped_per_event_in_stream_order() -> None:
    grouped = group_by_slug(
        [
            change("b", ChangeKind.INSERT, 12),
            change("a", ChangeKind.INSERT, 11),
            change("b", ChangeKind.REMOVE, 10),
            change("a", ChangeKind.INSERT, 13),
        ]
    )
    assert [batch.slug for batch in grouped.batches] == ["b", "a"]
    b, a = grouped.batches
    assert [c.sequence_number for c in b.changes] == ["10", "12"]
    assert (sum(c.delta for c in b.changes), sum(c.delta for c in a.changes)) == (0, 2)
    assert (a.first_sequence, a.changes[-1].sequence) == (pad_sequence("11"), pad_sequence("13"))
    assert b.first_sequence_number == "10"
    assert grouped.repeated == 0


def test_a_record_repeated_within_a_batch_counts_once() -> None:
    grouped = group_by_slug([change("a", ChangeKind.INSERT, 5), change("a", ChangeKind.INSERT, 5)])
    assert len(grouped.batches[0].changes) == 1
    assert grouped.repeated == 1


def test_modify_only_groups_need_no_write_but_cancelling_pairs_do() -> None:
    assert not SlugBatch("a", (change("a", ChangeKind.MODIFY, 1),)).needs_write
    pair = SlugBatch("a", (change("a", ChangeKind.INSERT, 1), change("a", ChangeKind.REMOVE, 2)))
    assert sum(c.delta for c in pair.changes) == 0
    assert pair.needs_write


@pytest.mark.parametrize(
    ("count", "delta", "expected", "clamped"),
    [
        (3, 2, 5, False),
        (3, -3, 0, False),
        (1, -3, 0, True),
        (0, -1, 0, True),
        (0, 0, 0, False),
        # a negative stored count is drift evidence and counts as zero
        (-3, 1, 1, True),
        (-3, 0, 0, True),
        (-3, -1, 0, True),
    ],
)
def test_counts_never_go_below_zero(count: int, delta: int, expected: int, clamped: bool) -> None:
    change_ = counter_change(CounterRead(True, count), delta)
    result = count + change_.add if change_.add is not None else change_.set_to
    assert (result, change_.clamped) == (expected, clamped)


def test_earliest_compares_sequence_numbers_as_numbers_not_text() -> None:
    assert earliest(["900", "1000", "95"]) == "95"
    assert earliest(["1000", "999"]) == "999"
