"""The text of acts 4 and 5: what broke the hot event's counter, what repaired it, and the
counter at each step while the registrations keep coming."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.devtools.demo.hot_world import HotLook
from reconciler.devtools.demo.options import DemoOptions
from reconciler.kernel.model import EventKey

if TYPE_CHECKING:
    from reconciler.devtools.demo.hot import DropAct, EditAct, HotResult, PassStep

_LABEL = 20
_HEADER = f"{'':<{_LABEL}}  {'stored':>6}  {'true':>5}  {'on the way':>10}  {'drift':>5}"
_LEGEND = (
    "(on the way = registrations written but not yet handed to the handler by the stream;\n"
    " the counter is exact when stored = true - on the way)"
)


def look_row(label: str, look: HotLook, note: str = "") -> str:
    stored = "-" if look.stored is None else str(look.stored)
    drift = "ok" if look.exact else f"{look.drift:+d}"
    row = f"{label:<{_LABEL}}  {stored:>6}  {look.true:>5}  {look.on_their_way:>10}  {drift:>5}"
    return f"{row}  {note}".rstrip()


def render_drop(key: EventKey, queue_url: str, drop: DropAct, options: DemoOptions) -> str:
    replay = drop.replay
    kept = replay.trimmed + replay.failed
    return "\n".join(
        [
            f"4. A hot event loses a batch: {key.sort_key}, "
            f"one registration every {options.hot_interval:g} s",
            "",
            "From here on the pump follows the stream as the deployed mapping does (from LATEST,",
            "with retries and an on-failure destination) while a thread keeps registering",
            f"attendees. On-failure queue: {queue_url}",
            "",
            f"after {options.hot_warmup:g} s a batch of {drop.records} registrations failed on "
            f"all {drop.invocations} attempts;",
            "the mapping gave up on it and sent Lambda's on-failure message to the queue "
            f"({_plural(drop.messages, 'message')}:",
            "the batch's shard and range of sequence numbers, never its records)",
            "",
            _HEADER,
            look_row(
                "after the drop",
                drop.broken,
                f"the dropped batch's {drop.records} registrations are not counted",
            ),
            look_row("after the replay", drop.repaired, "while the registrations continue"),
            "",
            f"replay   reconciler replay --queue-url ... --once: "
            f"{_plural(replay.messages, 'message')}, {replay.records_replayed} stream records",
            "         read back from the stream and run through the handler (its ledger skips",
            f"         what was already applied); {replay.replayed} deleted, {kept} kept",
            _LEGEND,
            "",
        ]
    )


def render_edit_start(key: EventKey, act: EditAct, options: DemoOptions) -> str:
    return "\n".join(
        [
            f"5. A hot event's counter edited by hand: {key.sort_key}, "
            "while the registrations continue",
            "",
            f"an operator sets attendeeCount to {act.value}; then reconciler run --once "
            f"--event {key.slug} --settle-seconds {options.hot_settle_seconds:g},",
            "pass after pass. The event's ledger is backfilled, so each pass checks the counter",
            "against the ledger (exact even while records land: a count is retried until the",
            "counter's version did not move) and each attendee against its entry; it needs no",
            "quiet moment of the event. The counter goes on moving with every batch, so a pass",
            "finds the edited value plus the registrations applied since.",
            "",
            _HEADER,
            look_row("after the hand edit", act.broken),
        ]
    )


def pass_note(step: PassStep) -> str:
    summary = step.summary
    done = [
        f"counter set from {record.stored} to the ledger's {record.counted} ({record.outcome})"
        for record in step.corrections
    ]
    keys = summary.key_repairs_missing + summary.key_repairs_extra
    if keys:
        done.append(f"{keys} key repairs")
    if summary.keys_in_flux:
        done.append(f"{summary.keys_in_flux} keys in flux (their records landed)")
    if summary.conflicts or summary.key_conflicts:
        done.append(f"{summary.conflicts + summary.key_conflicts} conflicts (next pass)")
    what = "; ".join(done) or "nothing to repair"
    return f"{what}; {step.registrations_during} registrations during the pass"


def render_pass(step: PassStep) -> str:
    return look_row(f"after pass {step.number}", step.look, pass_note(step))


def render_hot_end(result: HotResult) -> str:
    edit = result.edit
    exact_after = next((step.number for step in edit.passes if step.look.exact), None)
    verdict = (
        f"exact after pass {exact_after}, with the registrations still coming"
        if exact_after is not None and edit.repaired_under_traffic
        else "NOT exact while the registrations continued"
    )
    lines = [
        "",
        f"hand edit: {verdict}",
        _LEGEND,
        "",
        f"traffic stopped after {result.registrations} registrations for {result.key.slug}; "
        f"the pump drained the stream ({result.pump.batches} batches, "
        f"{_plural(result.pump.on_failure_messages, 'on-failure message')})",
    ]
    if result.traffic_failure is not None:
        lines.append(f"the registration thread stopped early: {result.traffic_failure}")
    return "\n".join(lines)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
