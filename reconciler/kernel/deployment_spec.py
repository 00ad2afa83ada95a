"""The deployed shape of the stream handler, in one place.

The CDK app builds it, ``reconciler doctor`` checks a live account against it, and the local
pump imitates it; keeping the numbers here stops the three from drifting apart.
"""

from __future__ import annotations

HANDLER_FUNCTION_NAME = "updateAttendeeCounter"
HANDLER_ENTRY_POINT = "reconciler.handler.entry.handler"
HANDLER_MEMORY_MB = 128
HANDLER_TIMEOUT_SECONDS = 60

BATCH_SIZE = 10
BATCHING_WINDOW_SECONDS = 5
MAX_RETRY_ATTEMPTS = 3
BISECT_BATCH_ON_ERROR = True
MAX_RECORD_AGE_SECONDS = 3600
FUNCTION_RESPONSE_TYPES: tuple[str, ...] = ("ReportBatchItemFailures",)
STARTING_POSITION = "TRIM_HORIZON"
ON_FAILURE_QUEUE_NAME = f"{HANDLER_FUNCTION_NAME}-on-failure"
"""The mapping's on-failure destination, a fixed physical name: the ReconcilerStack replays it
and the MonitoringStack watches it without a cross-stack export pinning the StatelessStack."""
STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"

STREAM_READ_ACTIONS: tuple[str, ...] = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)
"""The four permissions the deployment guide's "Permission denied" entry names."""

HANDLER_TABLE_ACTIONS: tuple[str, ...] = (
    "dynamodb:Query",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:UpdateItem",
)
"""All the handler does with the registration table (event items only): find the event, read it
with the batch's ledger entries in one ``BatchGetItem``, update its counter."""

HANDLER_STATE_TABLE_ACTIONS: tuple[str, ...] = (
    "dynamodb:BatchGetItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:ConditionCheckItem",
)
"""All the handler does with the state table: read ledger entries, write them. Its
``TransactWriteItems`` needs no action of its own: IAM authorises each item's action."""

RECONCILER_STATE_TABLE_ACTIONS: tuple[str, ...] = (
    "dynamodb:Query",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
)
"""The reconciler's per-key repair rewrites entries beside the counter in one transaction;
``init --backfill`` writes entries."""

REPLAY_QUEUE_ACTIONS: tuple[str, ...] = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
)
"""What ``serve --on-failure-queue-url`` does with the on-failure queue: receive, delete after a
replay, hand a message back (``--dry-run``), read its depth."""

REPLAY_STREAM_ACTIONS: tuple[str, ...] = (
    "dynamodb:DescribeStream",
    "dynamodb:GetShardIterator",
    "dynamodb:GetRecords",
)
"""A replay reads exactly one shard's range (``AT_SEQUENCE_NUMBER``); it never lists streams."""

RECONCILER_STACK_NAME = "ReconcilerStack"
RECONCILER_QUEUE_URL_OUTPUT = "ReplayQueueUrl"
"""ReconcilerStack's output: the queue URL its container replays (the same value it is given)."""
RECONCILER_TASK_ROLE_OUTPUT = "TaskRoleArn"
"""ReconcilerStack's output: the task role, whose replay permissions ``doctor`` checks."""

TABLE_STREAM_ARN_EXPORT = "TableStreamArn"
TABLE_NAME_EXPORT = "TableName"
STATE_TABLE_NAME_EXPORT = "StateTableName"
BUCKET_NAME_EXPORT = "BucketName"
"""The StatefulStack's bucket; the ReconcilerStack's export mode writes its exports there."""

# CloudWatch Embedded Metric Format emitted by the handler: namespace default and metric names.
HANDLER_METRICS_NAMESPACE = "AttendeeCounter/Handler"
HANDLER_METRIC_DIMENSION = "FunctionName"
METRIC_RECORDS_INSERT = "RecordsInsert"
METRIC_RECORDS_REMOVE = "RecordsRemove"
METRIC_RECORDS_MODIFY = "RecordsModify"
METRIC_RECORDS_IGNORED = "RecordsIgnored"
METRIC_COUNTER_UPDATES = "CounterUpdatesApplied"
METRIC_DUPLICATES_SKIPPED = "DuplicateRecordsSkipped"
METRIC_ORPHAN_RECORDS = "OrphanRecords"
METRIC_AMBIGUOUS_RECORDS = "AmbiguousRecords"
METRIC_MALFORMED_RECORDS = "MalformedRecords"
METRIC_CLAMPED_AT_ZERO = "ClampedAtZero"
METRIC_PARTIAL_BATCH_FAILURES = "PartialBatchFailures"

# The reconciler's per-pass CloudWatch metrics (``reconciler.reconcile.publisher`` sends them,
# the alarms of ``alarms.spec`` watch them): a contract between two components, so it lives here.
RECONCILER_METRICS_NAMESPACE = "AttendeeCounter/Reconciler"
METRIC_PASSES = "Passes"
METRIC_FAILED_PASSES = "FailedPasses"
"""0 or 1 per pass. Published on every pass, so a missing datapoint means no pass ran."""
METRIC_EVENTS_CHECKED = "EventsChecked"
METRIC_IN_SYNC = "InSync"
METRIC_DRIFTED = "Drifted"
METRIC_DRIFT_OVER = "DriftedOver"
METRIC_DRIFT_UNDER = "DriftedUnder"
METRIC_DRIFT_ATTENDEES = "DriftAttendees"
METRIC_CORRECTED = "Corrected"
METRIC_PLANNED = "CorrectionsPlanned"
METRIC_CONFLICTS = "Conflicts"
METRIC_IN_FLUX = "InFlux"
METRIC_AMBIGUOUS = "Ambiguous"
METRIC_INVALID = "Invalid"
METRIC_UNREADABLE_VERSION = "UnreadableVersion"
"""Events whose ``counterVersion`` is not an integer (the handler skips them until repaired)."""
METRIC_BRAKE_TRIPPED = "BrakeTripped"
METRIC_DURATION = "PassDuration"
METRIC_CONSUMED_READ_UNITS = "ConsumedReadUnits"
METRIC_LEDGER_EVENTS = "LedgerEvents"
"""Events checked against their backfilled ledger; the rest are ``ClassicEvents``."""
METRIC_CLASSIC_EVENTS = "ClassicEvents"
METRIC_COUNTER_REPAIRS = "CounterRepairs"
"""Ledger-mode counters set to the ledger's count (also summed into ``Corrected``)."""
METRIC_KEY_REPAIRS_MISSING = "KeyRepairsMissing"
METRIC_KEY_REPAIRS_EXTRA = "KeyRepairsExtra"
METRIC_KEYS_IN_FLUX = "KeysInFlux"
METRIC_KEY_CONFLICTS = "KeyConflicts"
METRIC_REPLAYED = "ReplayedMessages"
"""On-failure messages ``serve --on-failure-queue-url`` replayed and deleted, per replay."""
METRIC_REPLAY_KEPT = "ReplayKeptMessages"
"""Messages the replay left on the queue (range gone, malformed, refused): an operator's."""

# Where every alarm sends the on-call engineer: ``{name}`` becomes the alarm key
# (``handler-errors``). Absolute, so the link works from an email or a pager app; the CLI
# (``--runbook-url-template``) and the CDK app (context ``runbookUrlTemplate``) can point it
# at a fork or an internal wiki.
RUNBOOK_URL_TEMPLATE = (
    "https://github.com/attendee-counter/reconciler/blob/main/docs/runbooks/{name}.md"
)
