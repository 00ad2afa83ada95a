"""Errors the alarms tooling raises on purpose; all are ``ReconcilerError`` subclasses."""

from __future__ import annotations

from reconciler.kernel.errors import ReconcilerError


class FunctionNotFoundError(ReconcilerError):
    """The handler function named in the settings does not exist in this account and region."""

    def __init__(self, function_name: str) -> None:
        super().__init__(
            f"Lambda function {function_name!r} not found in this account and region; "
            "check --function-name (RECONCILER_FUNCTION_NAME) and the AWS region"
        )
        self.function_name = function_name


class TopicNotFoundError(ReconcilerError):
    """``--topic-arn`` names an SNS topic that does not exist."""

    def __init__(self, topic_arn: str) -> None:
        super().__init__(
            f"SNS topic {topic_arn!r} does not exist; "
            "pass an existing --topic-arn or use --topic-name to create one"
        )


class QueueNotFoundError(ReconcilerError):
    """``--on-failure-queue`` names an SQS queue that does not exist."""

    def __init__(self, queue_name: str) -> None:
        super().__init__(
            f"SQS queue {queue_name!r} does not exist; check --on-failure-queue "
            "(the event source mapping's on-failure destination)"
        )


class ForeignAlarmError(ReconcilerError):
    """A desired alarm name is taken by an alarm this tool does not own."""

    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__(
            f"refusing to overwrite {len(names)} alarm(s) not tagged as ours: "
            f"{', '.join(names)}; delete them or choose another --prefix"
        )
        self.names = names
