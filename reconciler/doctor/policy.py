"""Just enough IAM policy evaluation to answer "may this role read that stream?".

Explicit deny beats allow; wildcards ``*`` and ``?`` match as IAM matches them (actions
case-insensitively, resources case-sensitively). Conditions are not evaluated: a conditional
statement is treated as applying, which the check reports, because the doctor cannot know the
request context the condition would see.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from reconciler.doctor.facts import Statement


@lru_cache(maxsize=256)
def _pattern(text: str, ignore_case: bool) -> re.Pattern[str]:
    body = re.escape(text).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(f"^{body}$", re.IGNORECASE if ignore_case else 0)


def _any_match(patterns: Iterable[str], value: str, *, ignore_case: bool) -> bool:
    return any(_pattern(p, ignore_case).match(value) for p in patterns)


def _covers(statement: Statement, action: str, resource: str) -> bool:
    if statement.actions:
        action_ok = _any_match(statement.actions, action, ignore_case=True)
    else:
        action_ok = bool(statement.not_actions) and not _any_match(
            statement.not_actions, action, ignore_case=True
        )
    if not action_ok:
        return False
    if statement.resources:
        return _any_match(statement.resources, resource, ignore_case=False)
    return bool(statement.not_resources) and not _any_match(
        statement.not_resources, resource, ignore_case=False
    )


def decide(statements: Sequence[Statement], action: str, resource: str) -> tuple[bool, bool]:
    """``(allowed, relies_on_a_condition)`` for one action on one resource."""
    deny = [s for s in statements if s.effect.lower() == "deny" and _covers(s, action, resource)]
    if any(not s.conditional for s in deny):
        return False, False
    allow = [s for s in statements if s.effect.lower() == "allow" and _covers(s, action, resource)]
    if not allow:
        return False, False
    unconditional = any(not s.conditional for s in allow)
    return True, bool(deny) or not unconditional


def statements_of(document: Mapping[str, Any]) -> tuple[Statement, ...]:
    """Normalise a parsed policy document's statements."""
    raw = document.get("Statement", [])
    items = [raw] if isinstance(raw, Mapping) else list(raw)
    return tuple(
        Statement(
            effect=str(item.get("Effect", "")),
            actions=_strings(item.get("Action")),
            not_actions=_strings(item.get("NotAction")),
            resources=_strings(item.get("Resource")),
            not_resources=_strings(item.get("NotResource")),
            conditional=bool(item.get("Condition")),
        )
        for item in items
        if isinstance(item, Mapping)
    )


def _strings(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return ()
