"""The replay chain: a batch Lambda drops goes to an SQS queue, and the reconciler replays that
queue from the stream. Each link is a check: the mapping's on-failure destination is an SQS
queue that exists, the handler's role may send to it, the reconciler replays that same queue,
and its role may receive and delete there and read the stream's range."""

from __future__ import annotations

from urllib.parse import urlsplit

from reconciler.doctor.checks.access import evaluate_grants
from reconciler.doctor.checks.result import CheckResult, unreadable
from reconciler.doctor.facts import Facts, MappingFacts, QueueFacts, RoleFacts
from reconciler.kernel import deployment_spec as deployed

REDEPLOY_STATELESS = (
    "redeploy StatelessStack (`cdk deploy StatelessStack`): its mapping sends dropped batches "
    f"to the SQS queue {deployed.ON_FAILURE_QUEUE_NAME}"
)
REDEPLOY_RECONCILER = (
    "redeploy ReconcilerStack (`cdk deploy ReconcilerStack`): it replays the StatelessStack's "
    "on-failure queue"
)
ROLE_READ = (
    "iam:GetRole, iam:List*RolePolicies, iam:GetRolePolicy, iam:GetPolicy and iam:GetPolicyVersion"
)


def _queue_of(facts: Facts, mapping: MappingFacts | None) -> QueueFacts | None:
    destination = mapping.on_failure_destination if mapping else None
    return next((q for q in facts.on_failure_queues if q.arn == destination), None)


def _no_queue(name: str) -> CheckResult:
    """A later link when the first is broken: ``on-failure-queue`` says why; this one fails
    too, so no summary reads as if the chain held."""
    return CheckResult(name, "fail", "no on-failure queue to check (see on-failure-queue)")


def on_failure_queue(facts: Facts, mapping: MappingFacts | None) -> CheckResult:
    name = "on-failure-queue"
    if mapping is None:
        return CheckResult(name, "fail", "no mapping to inspect", REDEPLOY_STATELESS)
    destination = mapping.on_failure_destination
    if not destination:
        return CheckResult(
            name,
            "fail",
            f"mapping {mapping.uuid} has no on-failure destination: a batch whose retries run "
            "out vanishes, with nothing to replay",
            REDEPLOY_STATELESS,
        )
    queue = _queue_of(facts, mapping)
    if queue is None:
        return CheckResult(
            name,
            "fail",
            f"the on-failure destination {destination} is not an SQS queue; "
            "the reconciler replays only an SQS queue",
            REDEPLOY_STATELESS,
        )
    if queue.error:
        return unreadable(
            name,
            f"could not look up queue {queue.name}: {queue.error}",
            "sqs:GetQueueUrl and sqs:GetQueueAttributes",
        )
    if not queue.exists:
        return CheckResult(
            name,
            "fail",
            f"the on-failure destination {queue.name} does not exist: Lambda cannot record a "
            "dropped batch",
            REDEPLOY_STATELESS,
        )
    if queue.kms_key and queue.kms_key != "alias/aws/sqs":
        return CheckResult(
            name,
            "warn",
            f"queue {queue.name} is encrypted with KMS key {queue.kms_key}; doctor does not "
            "read key policies",
            "the handler's role needs kms:GenerateDataKey and kms:Decrypt on the key, the "
            "reconciler's task role kms:Decrypt; or use SQS-managed encryption as "
            "StatelessStack does",
        )
    return CheckResult(name, "pass", f"the mapping sends dropped batches to queue {queue.name}")


def on_failure_send(facts: Facts, mapping: MappingFacts | None) -> CheckResult:
    name = "on-failure-send"
    queue = _queue_of(facts, mapping)
    if queue is None or not queue.exists:
        return _no_queue(name)
    fix = f"grant sqs:SendMessage on {queue.arn} to the handler's role (StatelessStack does this)"
    role = facts.role
    if role is None:
        return CheckResult(name, "fail", "no handler function, so no role to inspect", fix)
    return _role_may(name, role, {"sqs:SendMessage": queue.arn}, fix, "Lambda's on-failure sends")


def replay_queue(facts: Facts, mapping: MappingFacts | None) -> CheckResult:
    name = "replay-queue"
    queue = _queue_of(facts, mapping)
    replay = facts.replay
    if queue is None or not queue.exists or replay is None:
        return _no_queue(name)
    point_serve = (
        f"give `reconciler serve` --on-failure-queue-url {queue.url or queue.name} "
        f"(RECONCILER_ON_FAILURE_QUEUE_URL); in the CDK app, {REDEPLOY_RECONCILER}"
    )
    if replay.queue_url is None:
        if replay.error:
            return unreadable(
                name,
                f"could not read stack {replay.stack}: {replay.error}",
                "cloudformation:DescribeStacks",
                status="warn",
            )
        if replay.stack_found:
            return CheckResult(
                name,
                "fail",
                f"stack {replay.stack} does not replay the on-failure queue: dropped batches "
                "wait for an operator",
                REDEPLOY_RECONCILER,
            )
        return CheckResult(
            name,
            "warn",
            f"no stack {replay.stack} and no --on-failure-queue-url given: doctor cannot tell "
            "which queue the reconciler replays",
            "pass the reconciler's queue URL to doctor (--on-failure-queue-url or "
            f"RECONCILER_ON_FAILURE_QUEUE_URL); {point_serve}",
        )
    if not same_queue(replay.queue_url, queue.arn):
        return CheckResult(
            name,
            "fail",
            f"the reconciler replays {replay.queue_url} ({replay.named_by}), but the mapping "
            f"sends dropped batches to {queue.name}",
            point_serve,
        )
    return CheckResult(
        name,
        "pass",
        f"the reconciler replays {queue.name}, the mapping's on-failure queue ({replay.named_by})",
    )


def replay_permissions(facts: Facts, mapping: MappingFacts | None) -> CheckResult:
    name = "replay-permissions"
    queue = _queue_of(facts, mapping)
    replay = facts.replay
    if queue is None or not queue.exists or replay is None:
        return _no_queue(name)
    stream = facts.table.stream_arn or "the table's stream"
    fix = (
        f"grant {', '.join(deployed.REPLAY_QUEUE_ACTIONS)} on {queue.arn} and "
        f"{', '.join(deployed.REPLAY_STREAM_ACTIONS)} on {stream} to the reconciler's role; "
        f"{REDEPLOY_RECONCILER}"
    )
    if replay.role is None:
        return CheckResult(
            name,
            "warn",
            f"stack {replay.stack} names no task role ({deployed.RECONCILER_TASK_ROLE_OUTPUT}): "
            "the reconciler's queue and stream permissions were not checked",
            f"deploy ReconcilerStack; elsewhere, check by hand: {fix}",
        )
    wanted = dict.fromkeys(deployed.REPLAY_QUEUE_ACTIONS, queue.arn)
    if facts.table.stream_arn:
        wanted.update(dict.fromkeys(deployed.REPLAY_STREAM_ACTIONS, facts.table.stream_arn))
    return _role_may(name, replay.role, wanted, fix, "the replay's queue and stream reads")


def _role_may(
    name: str, role: RoleFacts, wanted: dict[str, str], fix: str, uses: str
) -> CheckResult:
    """Pass when the role allows each action on its resource; fail naming what it lacks."""
    if role.error:
        return unreadable(
            name, f"could not read role {role.name}'s policies: {role.error}", ROLE_READ
        )
    missing, conditional = evaluate_grants(role.statements, wanted)
    if missing:
        resources = dict.fromkeys(wanted[action] for action in missing)
        lacks = "; ".join(
            f"{', '.join(a for a in missing if wanted[a] == resource)} on {resource}"
            for resource in resources
        )
        return CheckResult(name, "fail", f"role {role.name} lacks {lacks}", fix)
    if conditional:
        return CheckResult(
            name,
            "warn",
            f"role {role.name} grants {', '.join(conditional)} only under conditions doctor "
            "cannot evaluate",
            f"check the conditions hold for {uses}",
        )
    granted = ", ".join(sorted(wanted))
    return CheckResult(name, "pass", f"role {role.name} grants {granted}")


def same_queue(url: str, arn: str) -> bool:
    """Whether a queue URL (``https://sqs.REGION.amazonaws.com/ACCOUNT/NAME``, or a local
    endpoint's ``http://host:port/ACCOUNT/NAME``) names the queue of an ARN."""
    path = [part for part in urlsplit(url).path.split("/") if part]
    parts = arn.split(":")
    if len(path) < 2 or len(parts) < 6:
        return False
    return (path[-2], path[-1]) == (parts[4], parts[5])


def chain_checks(facts: Facts, mapping: MappingFacts | None) -> list[CheckResult]:
    """The two links the stream path owns always; the reconciler's two with replay facts."""
    results = [on_failure_queue(facts, mapping), on_failure_send(facts, mapping)]
    if facts.replay is not None:
        results += [replay_queue(facts, mapping), replay_permissions(facts, mapping)]
    return results
