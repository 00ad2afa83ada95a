"""The pure diff between the alarms we want and the alarms CloudWatch has.

Deletion is the dangerous part, so it is decided here, where it can be tested exhaustively:
only alarms carrying our owner tag *and* our prefix tag are ever deleted. A desired name that
is taken by an alarm we do not own is reported as ``foreign`` and never overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from alarms.render import OWNER_CLI, AlarmDefinition, is_owned


@dataclass(frozen=True, slots=True)
class ExistingAlarm:
    definition: AlarmDefinition
    arn: str


@dataclass(frozen=True, slots=True)
class Update:
    definition: AlarmDefinition
    changed: tuple[str, ...]
    arn: str


@dataclass(frozen=True, slots=True)
class AlarmPlan:
    create: tuple[AlarmDefinition, ...] = ()
    update: tuple[Update, ...] = ()
    delete: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    foreign: tuple[str, ...] = ()
    """Desired names already used by alarms we do not own; applying must refuse."""

    @property
    def changes(self) -> int:
        return len(self.create) + len(self.update) + len(self.delete)

    def to_json(self) -> dict[str, Any]:
        return {
            "create": [d.name for d in self.create],
            "update": [u.definition.name for u in self.update],
            "delete": list(self.delete),
            "unchanged": list(self.unchanged),
        }


def plan(
    desired: Sequence[AlarmDefinition],
    existing: Sequence[ExistingAlarm],
    *,
    prefix: str,
    owner: str = OWNER_CLI,
) -> AlarmPlan:
    """Create what is missing, update what differs, delete what we own and no longer want."""
    scope = f"{prefix}-"
    current = {e.definition.name: e for e in existing if e.definition.name.startswith(scope)}
    wanted = {d.name for d in desired}
    create: list[AlarmDefinition] = []
    update: list[Update] = []
    unchanged: list[str] = []
    foreign: list[str] = []
    for definition in desired:
        found = current.get(definition.name)
        if found is None:
            create.append(definition)
        elif not is_owned(found.definition.tag_map, prefix, owner):
            foreign.append(definition.name)
        else:
            changed = definition.differences(found.definition)
            if changed:
                update.append(Update(definition, changed, found.arn))
            else:
                unchanged.append(definition.name)
    delete = sorted(
        name
        for name, alarm in current.items()
        if name not in wanted and is_owned(alarm.definition.tag_map, prefix, owner)
    )
    return AlarmPlan(
        create=tuple(create),
        update=tuple(update),
        delete=tuple(delete),
        unchanged=tuple(unchanged),
        foreign=tuple(foreign),
    )
