from __future__ import annotations

import pytest

from reconciler.kernel.model import (
    EventKey,
    ItemKind,
    TableModel,
    classify,
    integer_attribute,
    pad_sequence,
)

MODEL = TableModel()


@pytest.mark.parametrize(
    ("pk", "sk", "kind", "slug"),
    [
        ("FAD", "tech-summit-2024#2024-10-27#conference", ItemKind.EVENT, "tech-summit-2024"),
        ("EVENT", "workshop-ai#2024-11-15#workshop", ItemKind.EVENT, "workshop-ai"),
        ("tech-summit-2024#ATTENDEE", "ada@example.com", ItemKind.ATTENDEE, "tech-summit-2024"),
        ("FAD", "no-separator", ItemKind.OTHER, ""),
        ("FAD", "#2024-10-27#conference", ItemKind.OTHER, ""),
        ("FAD", "slug#", ItemKind.OTHER, ""),
        ("#ATTENDEE", "ada@example.com", ItemKind.OTHER, ""),
        ("a#b#ATTENDEE", "ada@example.com", ItemKind.OTHER, ""),
        ("tech#ATTENDEE", "", ItemKind.OTHER, ""),
        ("_RECONCILER", "leader-lease", ItemKind.OTHER, ""),
        ("USER", "whatever", ItemKind.OTHER, ""),
    ],
)
def test_keys_are_classified_by_the_deployed_layout(pk: str, sk: str, kind: ItemKind, slug: str):
    ref = classify(pk, sk, MODEL)
    assert ref.kind is kind
    assert ref.slug == slug


def test_keys_of_the_wrong_type_are_other():
    assert classify(1, "x#y", MODEL).kind is ItemKind.OTHER
    assert classify("FAD", None, MODEL).kind is ItemKind.OTHER


def test_classification_follows_a_configured_layout():
    model = TableModel(
        pk_attr="PK", sk_attr="SK", event_partitions=("CONF",), attendee_suffix="#REG"
    )
    assert classify("CONF", "x#2024-01-01#talk", model).kind is ItemKind.EVENT
    assert classify("x#REG", "a@b.c", model).slug == "x"
    assert classify("FAD", "x#2024-01-01#talk", model).kind is ItemKind.OTHER
    assert classify("x#ATTENDEE", "a@b.c", model).kind is ItemKind.OTHER


def test_event_prefix_ends_with_the_separator_so_prefix_slugs_do_not_collide():
    prefix = MODEL.event_sk_prefix("workshop")
    assert prefix == "workshop#"
    assert not "workshop-ai#2024-11-15#workshop".startswith(prefix)
    assert "workshop#2024-11-15#workshop".startswith(prefix)


def test_event_key_knows_its_slug():
    assert EventKey("FAD", "tech-summit-2024#2024-10-27#conference").slug == "tech-summit-2024"


def test_padded_sequence_numbers_compare_like_numbers():
    small, large = "999", "1000"
    assert small > large  # the trap: plain strings
    assert pad_sequence(small) < pad_sequence(large)
    assert len(pad_sequence("1" * 40)) == 40


@pytest.mark.parametrize("bad", ["", "12a", "-1", "1" * 41, " 12"])
def test_malformed_sequence_numbers_are_rejected(bad: str):
    with pytest.raises(ValueError, match="sequence number"):
        pad_sequence(bad)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ({"N": "12"}, 12),
        ({"N": "-3"}, -3),
        ({"N": "2.5"}, None),
        ({"S": "10"}, None),
        ({"N": "ten"}, None),
        ({"N": 10}, None),
        ("10", None),
        (None, None),
    ],
)
def test_only_integer_number_attributes_are_usable_counters(raw: object, value: int | None):
    assert integer_attribute(raw) == value
