"""The pure diff: create, update, delete, unchanged, and never touching what is not ours."""

from __future__ import annotations

from dataclasses import replace

from alarms.plan import ExistingAlarm, plan
from alarms.render import OWNER_CDK, AlarmDefinition, render
from alarms.spec import SpecParameters, build_specs

PREFIX = "ac"
DESIRED = render(
    build_specs(SpecParameters(function_name="fn", timeout_seconds=60)),
    prefix=PREFIX,
    topic_arn="arn:aws:sns:us-east-1:123456789012:ac-alarms",
)


def existing(definition: AlarmDefinition, **changes: object) -> ExistingAlarm:
    stored = replace(definition, **changes)  # type: ignore[arg-type]
    return ExistingAlarm(definition=stored, arn=f"arn:aws:cloudwatch:::alarm:{stored.name}")


def foreign(name: str, tags: tuple[tuple[str, str], ...] = ()) -> ExistingAlarm:
    return existing(replace(DESIRED[0], name=name, tags=tags))


def test_nothing_existing_means_everything_is_created() -> None:
    result = plan(DESIRED, [], prefix=PREFIX)
    assert [d.name for d in result.create] == [d.name for d in DESIRED]
    assert result.changes == len(DESIRED)


def test_identical_alarms_are_unchanged() -> None:
    result = plan(DESIRED, [existing(d) for d in DESIRED], prefix=PREFIX)
    assert result.changes == 0
    assert result.unchanged == tuple(d.name for d in DESIRED)


def test_changed_threshold_is_an_update_naming_the_field() -> None:
    stored = [existing(d) for d in DESIRED]
    stored[0] = existing(DESIRED[0], threshold=7.0)
    result = plan(DESIRED, stored, prefix=PREFIX)
    assert [(u.definition.name, u.changed) for u in result.update] == [
        (DESIRED[0].name, ("threshold",))
    ]
    assert result.update[0].arn == stored[0].arn


def test_dropped_owner_tag_value_is_not_ours_and_reported_foreign() -> None:
    stored = [existing(d) for d in DESIRED]
    stored[1] = foreign(DESIRED[1].name)
    result = plan(DESIRED, stored, prefix=PREFIX)
    assert result.foreign == (DESIRED[1].name,)
    assert DESIRED[1].name not in [u.definition.name for u in result.update]


def test_extra_tags_added_by_someone_else_do_not_cause_an_update() -> None:
    stored = [existing(d, tags=(*d.tags, ("CostCenter", "42"))) for d in DESIRED]
    assert plan(DESIRED, stored, prefix=PREFIX).changes == 0


def test_changed_tag_value_is_an_update() -> None:
    tags = tuple((k, "other" if k == "Severity" else v) for k, v in DESIRED[0].tags)
    result = plan(DESIRED, [existing(DESIRED[0], tags=tags)], prefix=PREFIX)
    assert result.update[0].changed == ("tags",)


def test_owned_alarm_no_longer_desired_is_deleted() -> None:
    stored = [existing(d) for d in DESIRED]
    result = plan(DESIRED[1:], stored, prefix=PREFIX)
    assert result.delete == (DESIRED[0].name,)


def test_alarms_of_others_under_our_prefix_are_never_deleted() -> None:
    others = [
        foreign(f"{PREFIX}-hand-made"),
        foreign(f"{PREFIX}-cdk", (("ManagedBy", OWNER_CDK), ("AlarmPrefix", PREFIX))),
        foreign(
            f"{PREFIX}-staging-x",
            (("ManagedBy", "attendee-counter-reconciler"), ("AlarmPrefix", f"{PREFIX}-staging")),
        ),
    ]
    result = plan((), others, prefix=PREFIX)
    assert result.delete == ()
    assert result.changes == 0


def test_alarms_outside_the_prefix_are_ignored_even_if_tagged_ours() -> None:
    elsewhere = existing(replace(DESIRED[0], name="zz-handler-errors-sum-critical"))
    assert plan((), [elsewhere], prefix=PREFIX).delete == ()


def test_destroy_plan_deletes_every_owned_alarm() -> None:
    result = plan((), [existing(d) for d in DESIRED], prefix=PREFIX)
    assert set(result.delete) == {d.name for d in DESIRED}


def test_json_has_exactly_the_four_lists_of_names() -> None:
    stored = [existing(DESIRED[0], threshold=9.0), existing(DESIRED[1])]
    result = plan(DESIRED[:3], stored, prefix=PREFIX).to_json()
    assert result == {
        "create": [DESIRED[2].name],
        "update": [DESIRED[0].name],
        "delete": [],
        "unchanged": [DESIRED[1].name],
    }
